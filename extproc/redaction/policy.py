"""Privacy policies from envoy.yaml: what the provider may see, and what the caller may see.

Gateway-wide in the `llm` virtual host's `llm_gateway` metadata, overridden per
model route (each of `request`, `response` and `log_text` on its own):

    privacy:
      request:                 # before any provider call
        mode: mask             # off | mask | block | restore
        entities: [EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, IBAN_CODE, IP_ADDRESS, US_SSN, SECRET]
        max_scan_bytes: 4194304  # the most text one request may hold for detection
        max_scan_seconds: 5    # the most time its detection may take (waiting for a scan thread included)
        over_budget: refuse    # refuse (413) | truncate (mask what was read, cut the rest)
        unscannable: allow     # allow | refuse (400): images, audio, files, token ids
      response:                # on the completion, buffered and streamed
        mode: mask             # off | mask | block
        entities: [CREDIT_CARD, US_SSN, SECRET]
        deny_list: ["Project Falcon"]
      log_text: false          # true: the log line carries the (redacted) prompt and completion

`restore` masks like `mask`, then puts the caller's values back into the
completion, so the provider never sees them and the caller never misses them.
A route's `request` sets its own `mode` and `entities`; the scan budget
(`max_scan_bytes`, `max_scan_seconds`, `over_budget`, `unscannable`) is the
gateway-wide one unless the route sets it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, get_args

from extproc.config.schema import privacy as schema
from extproc.config.validation import gateway_settings
from extproc.redaction.entities import ENTITIES

REQUEST_MODES = get_args(schema.RequestMode)
RESPONSE_MODES = get_args(schema.ResponseMode)
# As much text as Envoy takes in a body (4 MiB, about a million tokens): the byte budget is for an
# operator to lower. The time budget is the guard: detection reads ordinary prose at 1.5-2 MB/s and
# text full of values at 0.3-0.7 MB/s on a busy machine here (docs/benchmarks.md), so 5 s lets
# ordinary prompts through and stops a body built to be slow to scan. It must stay well under the
# ext_proc filter's message_timeout (10 s), past which Envoy would give up first.
MAX_SCAN_BYTES = schema.MAX_SCAN_BYTES
MAX_SCAN_SECONDS = schema.MAX_SCAN_SECONDS


@dataclass(frozen=True, slots=True)
class RequestPolicy:
    """What happens to sensitive values in a request before the provider sees it."""

    mode: str = "off"
    entities: tuple[str, ...] = ENTITIES
    max_scan_bytes: int = MAX_SCAN_BYTES
    max_scan_seconds: float = MAX_SCAN_SECONDS
    over_budget: str = "refuse"
    unscannable: str = "allow"


@dataclass(frozen=True, slots=True)
class ResponsePolicy:
    """What happens to sensitive values (and denied words) in a completion."""

    mode: str = "off"
    entities: tuple[str, ...] = ENTITIES
    deny_list: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Privacy:
    """One route's privacy policy."""

    request: RequestPolicy = RequestPolicy()
    response: ResponsePolicy = ResponsePolicy()
    log_text: bool = False

    @property
    def active(self) -> bool:
        """False when nothing is redacted, restored, checked or logged."""
        return self.request.mode != "off" or self.response.mode != "off" or self.log_text


@dataclass(frozen=True, slots=True)
class PrivacyPolicies:
    """The gateway-wide policy and each model route's own."""

    default: Privacy = Privacy()
    by_model: dict[str, Privacy] = field(default_factory=dict)

    @property
    def any_active(self) -> bool:
        """False when no route redacts or checks anything (the stage can stay out of the way)."""
        return self.default.active or any(p.active for p in self.by_model.values())

    def for_model(self, model: str | None) -> Privacy:
        """The policy of the route serving `model` (its canonical name)."""
        return self.by_model.get(model or "", self.default)


def load_privacy(config: dict[str, Any]) -> PrivacyPolicies:
    """Read every privacy policy of a parsed envoy.yaml; ConfigError says what is wrong."""
    settings = gateway_settings(config)
    default = _privacy(settings.virtual_host.privacy, Privacy())
    by_model = {name: _privacy(route.privacy, default) for name, route in settings.routes.items() if route.privacy is not None}
    return PrivacyPolicies(default, by_model)


def _privacy(section: schema.Privacy, base: Privacy) -> Privacy:
    """`base` with the `request`, `response` and `log_text` that `section` sets replaced."""
    request, response = base.request, base.response
    if section.request is not None:
        raw = section.request
        # A route keeps the scan budget it inherits unless it sets its own.
        budget = {name: getattr(raw, name) if raw.is_set(name) else getattr(request, name) for name in _BUDGET_KEYS}
        request = RequestPolicy(mode=raw.mode, entities=tuple(raw.entities), **budget)
    if section.response is not None:
        raw_response = section.response
        response = ResponsePolicy(raw_response.mode, tuple(raw_response.entities), tuple(raw_response.deny_list))
    return Privacy(request, response, section.log_text if section.is_set("log_text") else base.log_text)


_BUDGET_KEYS = ("max_scan_bytes", "max_scan_seconds", "over_budget", "unscannable")
