"""Privacy policies from envoy.yaml: what the provider may see, and what the caller may see.

Gateway-wide in the `llm` virtual host's `llm_gateway` metadata, overridden per
model route (each of `request`, `response` and `log_text` on its own):

    privacy:
      request:                 # before any provider call
        mode: mask             # off | mask | block | restore
        entities: [EMAIL_ADDRESS, PHONE_NUMBER, CREDIT_CARD, IBAN_CODE, IP_ADDRESS, US_SSN, SECRET]
      response:                # on the completion, buffered and streamed
        mode: mask             # off | mask | block
        entities: [CREDIT_CARD, US_SSN, SECRET]
        deny_list: ["Project Falcon"]
      log_text: false          # true: the log line carries the (redacted) prompt and completion

`restore` masks like `mask`, then puts the caller's values back into the
completion, so the provider never sees them and the caller never misses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..catalog import iter_routes
from ..settings import SettingsError, mapping_of, only_keys, tenancy_metadata
from .entities import ENTITIES

REQUEST_MODES = ("off", "mask", "block", "restore")
RESPONSE_MODES = ("off", "mask", "block")


@dataclass(frozen=True, slots=True)
class RequestPolicy:
    """What happens to sensitive values in a request before the provider sees it."""

    mode: str = "off"
    entities: tuple[str, ...] = ENTITIES


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
        meta = ((route.get("metadata") or {}).get("filter_metadata") or {}).get("llm_gateway") or {}
        if "model" in meta and meta.get("privacy") is not None:
            where = f"model {meta['model']!r} privacy"
            by_model[str(meta["model"])] = _privacy(mapping_of(meta["privacy"], where), default, where)
    return PrivacyPolicies(default, by_model)


def _privacy(section: dict[str, Any], base: Privacy, where: str) -> Privacy:
    only_keys(section, ("request", "response", "log_text"), where)
    request, response = base.request, base.response
    if "request" in section:
        raw = mapping_of(section["request"], f"{where}.request")
        only_keys(raw, ("mode", "entities"), f"{where}.request")
        request = RequestPolicy(
            mode=_choice(raw.get("mode", "mask"), REQUEST_MODES, f"{where}.request.mode"),
            entities=_entities(raw.get("entities"), f"{where}.request.entities"),
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
