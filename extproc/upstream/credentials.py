"""Provider API keys: read from the environment or a file, never shown.

Endpoint metadata in envoy.yaml names where a key comes from (`api_key_env`
or `api_key_file`), never the key itself. Keys are injected into the upstream
request by the upstream filter and appear in no response, log line or error.
"""

from __future__ import annotations

import os
from pathlib import Path

from extproc.config.catalog import Endpoint
from extproc.errors import GatewayError


class Credentials:
    """Looks up the API key of an endpoint. Files are read once and cached."""

    def __init__(self, environ: dict[str, str] | None = None) -> None:
        self._environ = os.environ if environ is None else environ
        self._files: dict[str, str] = {}

    def api_key(self, endpoint: Endpoint) -> str | None:
        """The endpoint's key, None when it needs none; GatewayError when it is missing."""
        if endpoint.api_key_env:
            key = self._environ.get(endpoint.api_key_env, "").strip()
            if not key:
                raise _missing(endpoint, f"environment variable {endpoint.api_key_env} is not set")
            return key
        if endpoint.api_key_file:
            if endpoint.api_key_file not in self._files:
                try:
                    key = Path(endpoint.api_key_file).read_text().strip()
                except OSError as exc:
                    raise _missing(endpoint, f"key file {endpoint.api_key_file} cannot be read ({exc.strerror})") from None
                if not key:
                    raise _missing(endpoint, f"key file {endpoint.api_key_file} is empty")
                self._files[endpoint.api_key_file] = key
            return self._files[endpoint.api_key_file]
        return None


def _missing(endpoint: Endpoint, why: str) -> GatewayError:
    # Names where the key should come from, never any part of a key.
    return GatewayError(
        503,
        f"The gateway has no credentials for provider {endpoint.provider!r} ({why}).",
        code="provider_credentials_missing",
    )
