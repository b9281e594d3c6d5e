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
from typing import Any

from extproc.config.envoy_yaml import gateway_section, iter_routes
from extproc.redaction.entities import ENTITIES
from extproc.tenancy.settings import SettingsError, mapping_of, only_keys, tenancy_metadata

REQUEST_MODES = ("off", "mask", "block", "restore")
RESPONSE_MODES = ("off", "mask", "block")
OVER_BUDGET = ("refuse", "truncate")
UNSCANNABLE = ("allow", "refuse")
# As much text as Envoy takes in a body (4 MiB, about a million tokens): the byte budget is for an
# operator to lower. The time budget is the guard: detection reads ordinary prose at 1.5-2 MB/s and
# text full of values at 0.3-0.7 MB/s on a busy machine here (docs/benchmarks.md), so 5 s lets
# ordinary prompts through and stops a body built to be slow to scan. It must stay well under the
# ext_proc filter's message_timeout (10 s), past which Envoy would give up first.
MAX_SCAN_BYTES = 4 * 1024 * 1024
MAX_SCAN_SECONDS = 5.0


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
    """Read every privacy policy of a parsed envoy.yaml; SettingsError says what is wrong."""
    raw_default = mapping_of(tenancy_metadata(config).get("privacy"), "privacy")
    default = _privacy(raw_default, Privacy(), "privacy")
    by_model = {}
    for route in iter_routes(config):
        meta = gateway_section(route) or {}
        if "model" in meta and meta.get("privacy") is not None:
            where = f"model {meta['model']!r} privacy"
            by_model[str(meta["model"])] = _privacy(mapping_of(meta["privacy"], where), default, where)
    return PrivacyPolicies(default, by_model)


def _privacy(section: dict[str, Any], base: Privacy, where: str) -> Privacy:
    only_keys(section, ("request", "response", "log_text"), where)
    request, response = base.request, base.response
    if "request" in section:
        raw = mapping_of(section["request"], f"{where}.request")
        only_keys(raw, ("mode", "entities", *_BUDGET_KEYS), f"{where}.request")
        request = RequestPolicy(
            mode=_choice(raw.get("mode", "mask"), REQUEST_MODES, f"{where}.request.mode"),
            entities=_entities(raw.get("entities"), f"{where}.request.entities"),
            max_scan_bytes=_positive(raw.get("max_scan_bytes", request.max_scan_bytes), int, f"{where}.request.max_scan_bytes"),
            max_scan_seconds=_positive(
                raw.get("max_scan_seconds", request.max_scan_seconds), float, f"{where}.request.max_scan_seconds"
            ),
            over_budget=_choice(raw.get("over_budget", request.over_budget), OVER_BUDGET, f"{where}.request.over_budget"),
            unscannable=_choice(raw.get("unscannable", request.unscannable), UNSCANNABLE, f"{where}.request.unscannable"),
        )
    if "response" in section:
        raw = mapping_of(section["response"], f"{where}.response")
        only_keys(raw, ("mode", "entities", "deny_list"), f"{where}.response")
        response = ResponsePolicy(
            mode=_choice(raw.get("mode", "mask"), RESPONSE_MODES, f"{where}.response.mode"),
            entities=_entities(raw.get("entities"), f"{where}.response.entities"),
            deny_list=_strings(raw.get("deny_list"), f"{where}.response.deny_list"),
        )
    log_text = section.get("log_text", base.log_text)
    if not isinstance(log_text, bool):
        raise SettingsError(f"{where}.log_text must be true or false; got {log_text!r}")
    return Privacy(request, response, log_text)


_BUDGET_KEYS = ("max_scan_bytes", "max_scan_seconds", "over_budget", "unscannable")


def _positive(value: Any, kind: type, where: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0 or (kind is int and value != int(value)):
        raise SettingsError(f"{where} must be a positive {'whole number' if kind is int else 'number'}; got {value!r}")
    return kind(value)


def _choice(value: Any, allowed: tuple[str, ...], where: str) -> str:
    if value is False:  # YAML reads a bare `off` as false
        value = "off"
    if value not in allowed:
        raise SettingsError(f"{where} must be one of {', '.join(allowed)}; got {value!r}")
    return str(value)


def _entities(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ENTITIES
    names = _strings(value, where)
    unknown = [n for n in names if n not in ENTITIES]
    if unknown:
        raise SettingsError(f"{where}: unknown entity {', '.join(unknown)}; known: {', '.join(ENTITIES)}")
    return names


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise SettingsError(f"{where} must be a list of non-empty strings")
    return tuple(value)
