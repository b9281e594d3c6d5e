"""Reloading envoy.yaml in a running service process: read, validate, build, swap.

On SIGHUP the process reads its `--config` file again and builds a whole new
gateway from it (off the event loop; stores, cache entries and redaction
workers carry over when the settings keep them, see `app.build_gateway`).
Only then does it swap: streams that started before keep the gateway they
started with, new streams get the new one. A file that fails validation
changes nothing: the old configuration keeps serving, and the refusal is
logged with every problem and counted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from extproc.app import Gateway
from extproc.config.envoy_yaml import config_hash
from extproc.config.validation import ConfigError
from extproc.ext_proc.server import Current
from extproc.telemetry import metrics

log = logging.getLogger(__name__)

Build = Callable[[dict[str, Any], Gateway | None], Gateway]


class ConfigReloader:
    """Reloads one service process's configuration from its file, on request."""

    def __init__(self, path: str | Path, current: Current, build: Build, loaded: str, count: bool = True) -> None:
        self._path = Path(path)
        self._current = current
        self._build = build
        # The hash of the configuration serving now.
        self.loaded = loaded
        # False under `llm-gateway up`, which decides each reload and counts it once for all processes.
        self._count = count
        metrics.record_config_loaded(sha256=loaded, previous=None, at=time.time())

    async def reload(self) -> bool:
        """Apply the file as it is now; False (and the old configuration still serving) when it is refused."""
        started = time.monotonic()
        try:
            text = await asyncio.to_thread(self._path.read_bytes)
            config = yaml.safe_load(text)
            if not isinstance(config, dict):
                raise ConfigError([f"{self._path} is not an Envoy bootstrap (a YAML mapping)"])
            gateway = await asyncio.to_thread(self._build, config, self._current.serving.gateway)
        except ConfigError as exc:
            return self._refused(exc.problems)
        except (OSError, yaml.YAMLError) as exc:
            return self._refused([f"cannot read {self._path}: {exc}"])
        except Exception as exc:  # a store that cannot open, a provider LiteLLM cannot serve...
            log.exception("reload of %s failed", self._path)
            return self._refused([f"{type(exc).__name__}: {exc}"])
        digest = config_hash(text)
        self._current.swap(gateway)
        metrics.record_config_loaded(sha256=digest, previous=self.loaded, at=time.time())
        self.loaded = digest
        if self._count:
            metrics.record_config_reload(result="applied")
        log.info(
            "reloaded %s (sha256 %s, %d models) in %.0f ms; streams in flight finish on the previous configuration",
            self._path, digest[:12], len(gateway.catalog.routes), (time.monotonic() - started) * 1000,
        )  # fmt: skip
        return True

    def _refused(self, problems: list[str]) -> bool:
        log.error(
            "reload of %s refused; the configuration loaded before (sha256 %s) keeps serving:\n  %s",
            self._path, self.loaded[:12], "\n  ".join(problems),
        )  # fmt: skip
        if self._count:
            metrics.record_config_reload(result="refused")
        return False
