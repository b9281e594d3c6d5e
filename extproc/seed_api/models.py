"""The seed's `model` and `model_version` fields to a model the gateway has configured.

The seed names providers (`openai`, `claude`, `gemini`, `mistral`), not models. A provider
name picks that provider's first chat model in envoy.yaml's order (the operator chooses the
default by order), or, with `model_version`, the one whose name, alias or upstream model is
that version. Any other `model` is a configured model name or alias, as on the chat API, and
`auto` (or no model) leaves the choice to routing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from extproc.errors import shown
from extproc.seed_api.errors import SeedApiError

if TYPE_CHECKING:
    from extproc.config.catalog import Catalog

AUTO = "auto"
# The seed's provider names, and the LiteLLM providers each covers.
PROVIDER_NAMES: dict[str, tuple[str, ...]] = {
    "openai": ("openai", "azure"),
    "anthropic": ("anthropic",),
    "claude": ("anthropic",),
    "gemini": ("gemini", "vertex_ai"),
    "google": ("gemini", "vertex_ai"),
    "mistral": ("mistral",),
}


@dataclass(frozen=True, slots=True)
class ConfiguredModel:
    """A chat model the gateway serves: its name, its aliases, and its first endpoint's provider and model."""

    name: str
    provider: str
    upstream_model: str
    aliases: tuple[str, ...] = ()

    def answers_to(self, version: str) -> bool:
        """True when `version` names this model (its name, an alias, or the provider's model name)."""
        return version in (self.name, self.upstream_model, *self.aliases)


class ModelChoices:
    """The configured chat models, in envoy.yaml's order, and the seed's names for them."""

    def __init__(self, models: Iterable[ConfiguredModel]) -> None:
        self._models: tuple[ConfiguredModel, ...] = tuple(models)
        self._by_name = {name: m for m in self._models for name in (m.name, *m.aliases)}

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> ModelChoices:
        """The catalog's chat models (the first endpoint of each route names its provider)."""
        models = []
        for route in catalog.routes.values():
            if route.kind != "chat" or not route.endpoints:
                continue
            first = min(route.endpoints, key=lambda e: e.priority)
            models.append(ConfiguredModel(route.name, first.provider, first.upstream_model, route.aliases))
        return cls(models)

    def resolve(self, model: str | None, version: str | None) -> tuple[str, str | None]:
        """The configured model name to call, and the provider the seed named (if it named one)."""
        if model is None or model == AUTO:
            if version is None:
                return AUTO, None
            return self._version_among(self._models, version, "any provider"), None
        providers = PROVIDER_NAMES.get(model.lower())
        if providers is not None:
            return self._of_provider(model.lower(), providers, version), model.lower()
        chosen = self._named(model, "model")
        if version is not None and not self._by_name[chosen].answers_to(version):
            raise SeedApiError(
                400,
                f"`model_version` {shown(version)} is not model {shown(model)}; send a provider name "
                "(openai, anthropic, gemini, mistral) as `model` to pick one of its versions.",
                "unknown_model_version",
                "model_version",
            )
        return chosen, None

    def _named(self, name: str, field: str) -> str:
        found = self._by_name.get(name)
        if found is None:
            raise SeedApiError(
                400,
                f"Unknown {field} {shown(name)}. Use a provider ({', '.join(sorted(PROVIDER_NAMES))}), "
                f"`auto`, or a model this gateway serves: {_listing(self._models)}.",
                "unknown_model",
                field,
            )
        return found.name

    def _of_provider(self, name: str, providers: Sequence[str], version: str | None) -> str:
        candidates = [m for m in self._models if m.provider in providers]
        if not candidates:
            configured = sorted({m.provider for m in self._models})
            raise SeedApiError(
                400,
                f"No model of provider {shown(name)} is configured on this gateway; "
                f"its providers are: {', '.join(configured) or 'none'}.",
                "provider_not_configured",
                "model",
            )
        if version is None:
            return candidates[0].name
        return self._version_among(candidates, version, f"provider {shown(name)}")

    @staticmethod
    def _version_among(candidates: Sequence[ConfiguredModel], version: str, where: str) -> str:
        for candidate in candidates:
            if candidate.answers_to(version):
                return candidate.name
        raise SeedApiError(
            400,
            f"`model_version` {shown(version)} is not configured for {where}; its models: {_listing(candidates)}.",
            "unknown_model_version",
            "model_version",
        )


def _listing(models: Sequence[ConfiguredModel]) -> str:
    names = [f"{m.name} ({m.upstream_model})" if m.upstream_model != m.name else m.name for m in models]
    return ", ".join(names) if names else "none"
