"""The providers whose wire differs from what LiteLLM's config gives by default: URLs, headers, bodies, streams.

Each class is registered for its LiteLLM provider prefix; `ProviderTranslator.for_model` picks it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from extproc.translation import _litellm, shapes
from extproc.translation.errors import TranslationError
from extproc.translation.providers import ProviderTranslator, embedding_input, register
from extproc.translation.streams import GeminiStream, NDJSONStream


@register("openai")
class OpenAITranslator(ProviderTranslator):
    """OpenAI itself, and any OpenAI-compatible server named `openai/...` with an api_base."""

    default_api_base = "https://api.openai.com/v1"


@register("anthropic")
class AnthropicTranslator(ProviderTranslator):
    """Anthropic's Messages API (x-api-key and anthropic-version headers); no embeddings."""

    default_api_base = "https://api.anthropic.com"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        # litellm.completion() appends the Messages path to a bare base URL.
        if self.api_base and not self.api_base.endswith("/v1/messages"):
            self.api_base += "/v1/messages"

    def _chat_body(self, call: _litellm.ChatCall, headers: dict[str, Any]) -> dict[str, Any]:
        body = _litellm.chat_body(self._config, self.upstream_model, call, headers, own_params=True)
        _litellm.filter_anthropic_beta(headers, body)
        return body


@register("azure")
class AzureTranslator(ProviderTranslator):
    """Azure OpenAI: a deployment path, an api-version query and an api-key header."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.api_version = str(self.options.get("api_version") or _litellm.AZURE_DEFAULT_API_VERSION)
        self.options.setdefault("api_version", self.api_version)

    def _chat_target(self, call: _litellm.ChatCall, key: str | None) -> tuple[str, dict[str, Any]]:
        return self._deployment_url("chat/completions"), self._key_headers(key)

    def _embeddings_target(self, key: str | None) -> tuple[str, dict[str, Any]]:
        return self._deployment_url("embeddings"), self._key_headers(key)

    def _deployment_url(self, operation: str) -> str:
        # The URL the openai SDK's AzureOpenAI client builds; LiteLLM sends Azure calls through it.
        deployment = quote(self.upstream_model, safe="")
        return f"{self._base()}/openai/deployments/{deployment}/{operation}?api-version={quote(self.api_version)}"

    @staticmethod
    def _key_headers(key: str | None) -> dict[str, Any]:
        headers = {"content-type": "application/json"}
        if key:
            headers["api-key"] = key
        return headers


@register("gemini")
class GeminiTranslator(ProviderTranslator):
    """Google AI Studio: generateContent, streamGenerateContent?alt=sse, batchEmbedContents; x-goog-api-key."""

    answer_needs_request_body = False
    stream_class = GeminiStream

    def _chat_target(self, call: _litellm.ChatCall, key: str | None) -> tuple[str, dict[str, Any]]:
        url, auth = _litellm.gemini_url(self.upstream_model, key or "", call.stream, self.api_base)
        return url, {"content-type": "application/json", **auth}

    def _chat_body(self, call: _litellm.ChatCall, headers: dict[str, Any]) -> dict[str, Any]:
        return _litellm.gemini_body(self.upstream_model, call)

    def _embeddings_body(self, inputs: Any, params: dict[str, Any]) -> dict[str, Any]:
        return _litellm.gemini_embedding_body(self.upstream_model, inputs, params)

    def _embeddings_target(self, key: str | None) -> tuple[str, dict[str, Any]]:
        url, auth = _litellm.gemini_url(self.upstream_model, key or "", False, self.api_base, mode="batch_embedding")
        return url, {"content-type": "application/json; charset=utf-8", **auth}

    def embeddings_response(self, body: bytes, request_payload: dict[str, Any]) -> dict[str, Any]:
        """The OpenAI embeddings list for a batchEmbedContents answer."""
        inputs = embedding_input(request_payload)
        try:
            return shapes.embeddings(_litellm.gemini_embedding_response(self.upstream_model, inputs, body))
        except Exception as exc:
            message = f"Unreadable answer from gemini: {_litellm.error_message(exc)}"
            raise TranslationError(502, message, "bad_upstream_response") from exc


@register("ollama_chat")
class OllamaTranslator(ProviderTranslator):
    """Ollama's /api/chat, whose streams are newline-delimited JSON; LiteLLM defaults to localhost:11434."""

    stream_class = NDJSONStream
