"""Per-endpoint translation between OpenAI's API and a provider's wire format, on LiteLLM.

A `ProviderTranslator` is built once per provider endpoint at start-up from the
endpoint's LiteLLM model string. Per upstream attempt it turns an OpenAI
request into the provider's request (path, host, headers with credentials,
body), and the provider's answer (buffered JSON, event stream, error body) back
into OpenAI's format. LiteLLM's provider configs do the translating (through
`_litellm`); Envoy does the sending.

Supported: openai (and any OpenAI-compatible server as `openai/...` with an
api_base), azure, anthropic, gemini (Google AI Studio), mistral, hosted_vllm,
groq, together_ai, ollama_chat.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import orjson

from extproc.translation import _litellm, shapes
from extproc.translation.errors import TranslationError, error_message, error_type
from extproc.translation.streams import BufferedStream, OpenAIStream, ParsedStream, StreamTranslator

# Headers that carry a provider credential (lower case).
_CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "x-goog-api-key"})
# Providers that serve without an API key (self-hosted servers).
_KEYLESS = frozenset({"hosted_vllm", "ollama_chat"})
# Providers with no public endpoint: the endpoint must name its api_base.
_NEEDS_API_BASE = frozenset({"hosted_vllm", "azure"})
# Providers whose chat wire is OpenAI's: answers pass through untouched.
_OPENAI_WIRE = frozenset({"openai", "azure", "hosted_vllm"})
# Providers with an embeddings API the gateway translates to.
_EMBEDDINGS = frozenset({"openai", "azure", "mistral", "hosted_vllm", "together_ai", "gemini"})
# Keys shorter than this are not masked in messages (they would mangle ordinary words).
_MIN_MASKED_KEY = 6

_T = TypeVar("_T")
_Translator = TypeVar("_Translator", bound="ProviderTranslator")
# The translator class of each provider whose wire differs from LiteLLM's defaults
# (`provider_variants.py` registers them; the rest use ProviderTranslator itself).
_BY_PROVIDER: dict[str, type[ProviderTranslator]] = {}


def register(provider: str) -> Callable[[type[_Translator]], type[_Translator]]:
    """A class decorator: the translator class for `provider`."""

    def add(cls: type[_Translator]) -> type[_Translator]:
        _BY_PROVIDER[provider] = cls
        return cls

    return add


@dataclass(slots=True, repr=False)
class UpstreamRequest:
    """The request to send to one provider endpoint (its repr masks credentials)."""

    path: str  # URL path and query, e.g. "/v1/messages"
    authority: str  # host[:port]
    scheme: str  # "http" | "https"
    headers: dict[str, str]  # lower-case names; credentials, content-type and content-length included
    body: bytes
    stream: bool = False  # True when the provider will answer with an event stream
    # The request-side translation state. Handing this request back to chat_response or
    # chat_stream saves deriving it again from the payload.
    state: Any = field(default=None, compare=False)

    def __repr__(self) -> str:
        shown = {name: "***" if name in _CREDENTIAL_HEADERS else value for name, value in self.headers.items()}
        return (
            f"UpstreamRequest(path={self.path!r}, authority={self.authority!r}, scheme={self.scheme!r}, "
            f"headers={shown!r}, body=<{len(self.body)} bytes>, stream={self.stream!r})"
        )


# Parameter sets remembered per OpenAI-wire translator (see `_param_memo_key`).
_PARAM_MEMO_SIZE = 256
_CALL_FIELDS_BUT_MESSAGES = ("optional_params", "litellm_params", "stream", "json_mode", "fake_stream", "extra_body")


class ProviderTranslator:
    """Translation for one provider endpoint: a LiteLLM model string and its base URL."""

    # The provider's base URL when the endpoint names none and LiteLLM has no default.
    default_api_base: ClassVar[str | None] = None
    # Whether reading an answer needs the state that building the request body leaves.
    answer_needs_request_body: ClassVar[bool] = True
    # How the provider's event stream is read.
    stream_class: ClassVar[type[ParsedStream]] = ParsedStream

    def __init__(
        self, model: str, provider: str, upstream_model: str, api_base: str | None, options: dict[str, Any]
    ) -> None:
        self.model = model
        self.provider = provider
        self.upstream_model = upstream_model
        self.api_base = (api_base or self.default_api_base or "").rstrip("/") or None
        if provider in _NEEDS_API_BASE and not self.api_base:
            raise ValueError(f"{provider} endpoints need an api_base")
        self.options = options
        self.openai_compatible = provider in _OPENAI_WIRE
        self._param_memo: dict[bytes, bytes] = {}
        self._drop_params = bool(options.get("drop_params", False))
        self._key_required = bool(options.get("api_key_required", provider not in _KEYLESS))
        self._extra_headers = {str(k).lower(): str(v) for k, v in (options.get("headers") or {}).items()}
        self._config = _litellm.chat_config(upstream_model, provider)
        self._stream_usage = "stream_options" in _litellm.supported_chat_params(self._config, upstream_model)

    @classmethod
    def for_model(
        cls, model: str, api_base: str | None = None, options: dict[str, Any] | None = None
    ) -> ProviderTranslator:
        """The translator for a LiteLLM model string such as "anthropic/claude-3-5-haiku-20241022".

        `options`: `api_version` (Azure), `headers` (extra static headers),
        `drop_params` (drop parameters the provider does not take instead of
        refusing the request), `api_key_required` (default: all but self-hosted).
        """
        try:
            upstream, provider, base = _litellm.resolve(model, api_base)
        except ValueError as exc:
            raise TranslationError(500, str(exc), "unknown_provider") from exc
        translator_class = _BY_PROVIDER.get(provider, ProviderTranslator)
        try:
            return translator_class(model, provider, upstream, base, dict(options or {}))
        except ValueError as exc:
            raise TranslationError(500, f"Cannot translate for {model!r}: {exc}", "unsupported_provider") from exc

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, api_base={self.api_base!r})"

    # -- chat ---------------------------------------------------------------------------------

    def chat_request(self, payload: dict[str, Any], api_key: str | None) -> UpstreamRequest:
        """The provider request for an OpenAI chat request (the payload is not modified)."""
        key = self._check_key(api_key)
        call = self._prepare(payload, key)
        url, headers = self._guard(key, lambda: self._chat_target(call, key))
        body = self._guard(key, lambda: self._chat_body(call, headers))
        request = self._upstream(url, headers, body, key, stream=call.stream and not call.fake_stream)
        request.state = call
        return request

    def chat_response(
        self, body: bytes, request_payload: dict[str, Any], request: UpstreamRequest | None = None
    ) -> dict[str, Any]:
        """The OpenAI chat.completion for the provider's buffered 200 answer.

        `request`, if given, is what chat_request returned for this attempt.
        """
        if self.openai_compatible:
            return _json_object(body)
        return self._read_answer(self._answer_state(request_payload, request), body)

    def chat_stream(self, request_payload: dict[str, Any], request: UpstreamRequest | None = None) -> StreamTranslator:
        """A translator for the provider's answer to a streaming chat request (`request` as for chat_response)."""
        if self.openai_compatible:
            return OpenAIStream()
        call = self._answer_state(request_payload, request)
        if call.fake_stream:
            return BufferedStream(lambda body: self._read_answer(call, body))
        model = self.upstream_model
        parser = self._guard(None, lambda: _litellm.stream_parser(self._config, self.provider, model, call))
        return self.stream_class(parser, model)

    # -- embeddings ---------------------------------------------------------------------------

    def embeddings_request(self, payload: dict[str, Any], api_key: str | None) -> UpstreamRequest:
        """The provider request for an OpenAI embeddings request."""
        if self.provider not in _EMBEDDINGS:
            raise TranslationError(
                400, f"{self.provider} does not offer embeddings (model {self.model!r}).", "unsupported_endpoint"
            )
        key = self._check_key(api_key)
        inputs = embedding_input(payload)
        model, provider, drop = self.upstream_model, self.provider, self._drop_params
        params = self._guard(key, lambda: _litellm.embedding_params(model, provider, payload, drop_params=drop))
        body = self._guard(key, lambda: self._embeddings_body(inputs, params))
        url, headers = self._guard(key, lambda: self._embeddings_target(key))
        return self._upstream(url, headers, body, key)

    def embeddings_response(self, body: bytes, request_payload: dict[str, Any]) -> dict[str, Any]:
        """The OpenAI embeddings list for the provider's 200 answer."""
        return _json_object(body)

    # -- errors -------------------------------------------------------------------------------

    def error(self, status: int, body: bytes) -> tuple[str, str]:
        """(message, OpenAI error type) for a provider's error answer in any format."""
        message = error_message(body) or f"{self.provider} answered with HTTP status {status}."
        return message, error_type(status)

    # -- the steps a provider overrides -------------------------------------------------------

    def _chat_target(self, call: _litellm.ChatCall, key: str | None) -> tuple[str, dict[str, Any]]:
        """(URL, headers) of a chat request."""
        headers = _litellm.chat_headers(self._config, self.upstream_model, call, key, self.api_base)
        return _litellm.chat_url(self._config, self.upstream_model, call, key, self.api_base), headers

    def _chat_body(self, call: _litellm.ChatCall, headers: dict[str, Any]) -> dict[str, Any]:
        return _litellm.chat_body(self._config, self.upstream_model, call, headers)

    def _embeddings_body(self, inputs: Any, params: dict[str, Any]) -> dict[str, Any]:
        config = _litellm.embedding_config(self.upstream_model, self.provider)
        if config is not None:
            return dict(config.transform_embedding_request(self.upstream_model, inputs, params, {}))
        # litellm.embedding() hands these providers to the openai SDK, which sends just this; the
        # SDK merges `extra_body` (where LiteLLM puts parameters it does not know) into the body.
        params = dict(params)
        extra = params.pop("extra_body", None)
        return {"model": self.upstream_model, "input": inputs, **params, **(extra if isinstance(extra, dict) else {})}

    def _embeddings_target(self, key: str | None) -> tuple[str, dict[str, Any]]:
        headers = {"content-type": "application/json"}
        if key:
            headers["authorization"] = f"Bearer {key}"
        return f"{self._base()}/embeddings", headers

    # -- shared steps -------------------------------------------------------------------------

    def _prepare(self, payload: dict[str, Any], key: str | None) -> _litellm.ChatCall:
        """Validate and map the request's parameters, on a private copy of the payload."""
        payload = _copy(payload)
        if payload.get("stream") is True and self._stream_usage:
            # The gateway prices every stream: ask for the usage chunk whatever the client asked.
            options = payload.get("stream_options")
            payload["stream_options"] = {**(options if isinstance(options, dict) else {}), "include_usage": True}
        version = self.options.get("api_version")
        memo_key = self._param_memo_key(payload)
        if memo_key is not None and (known := self._param_memo.get(memo_key)) is not None:
            return _litellm.ChatCall(messages=payload["messages"], **orjson.loads(known))
        call: _litellm.ChatCall = self._guard(
            key,
            lambda: _litellm.prepare_chat(
                self._config,
                self.upstream_model,
                self.provider,
                payload,
                drop_params=self._drop_params,
                api_version=version,
            ),
        )
        if memo_key is not None:
            if len(self._param_memo) >= _PARAM_MEMO_SIZE:
                self._param_memo.clear()
            self._param_memo[memo_key] = orjson.dumps(
                {name: getattr(call, name) for name in _CALL_FIELDS_BUT_MESSAGES}, default=_json_default
            )
        return call

    def _param_memo_key(self, payload: dict[str, Any]) -> bytes | None:
        """For OpenAI-wire providers, the request's parameters without its messages.

        LiteLLM's parameter mapping (`get_optional_params`) is most of an OpenAI
        request's translation time, and for these providers it reads the
        parameters only, never the messages: requests with the same parameters
        map the same way. Messages are still checked the way prepare_chat checks them.
        """
        if not self.openai_compatible:
            return None
        messages = payload.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            return None  # let prepare_chat refuse it with its own message
        try:
            return orjson.dumps({k: v for k, v in payload.items() if k != "messages"}, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            return None

    def _answer_state(self, payload: dict[str, Any], request: UpstreamRequest | None) -> _litellm.ChatCall:
        """The request-side state that reading the answer needs, as litellm.completion() keeps it."""
        if request is not None and isinstance(request.state, _litellm.ChatCall):
            return request.state
        call = self._prepare(payload, None)
        if self.answer_needs_request_body:
            # Building the body records what the answer is read with (e.g. the map back
            # from the tool names Anthropic's translation had to rewrite).
            self._guard(None, lambda: self._chat_body(call, {}))
        return call

    def _read_answer(self, call: _litellm.ChatCall, body: bytes) -> dict[str, Any]:
        try:
            return shapes.completion(_litellm.chat_response(self._config, self.upstream_model, call, body))
        except Exception as exc:
            message = f"Unreadable answer from {self.provider}: {_litellm.error_message(exc)}"
            raise TranslationError(502, message, "bad_upstream_response") from exc

    def _check_key(self, api_key: str | None) -> str | None:
        if api_key:
            return api_key
        if self._key_required:
            raise TranslationError(500, f"No API key is configured for {self.model!r}.", "missing_credentials")
        return None

    def _base(self) -> str:
        if not self.api_base:
            raise TranslationError(500, f"No api_base is configured for {self.model!r}.", "missing_api_base")
        return self.api_base

    def _guard(self, key: str | None, step: Callable[[], _T]) -> _T:
        """Run a LiteLLM step; what it refuses becomes a client error, with any key masked."""
        try:
            return step()
        except TranslationError:
            raise
        except _litellm.UnsupportedParamsError as exc:
            raise TranslationError(400, _mask(_litellm.error_message(exc), key), "unsupported_parameter") from exc
        except _litellm.ImageFetchError as exc:
            message = (
                f"{self.provider} cannot take image URLs through this gateway, which does not download them: "
                "send the image inline as a data: URL."
            )
            raise TranslationError(400, message, "image_url_unsupported") from exc
        except Exception as exc:
            raise TranslationError(400, _mask(_litellm.error_message(exc), key), "invalid_request") from exc

    def _upstream(
        self, url: str, headers: dict[str, Any], body: dict[str, Any], key: str | None, stream: bool = False
    ) -> UpstreamRequest:
        raw = orjson.dumps(body, default=_json_default)
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            message = f"Bad provider URL for {self.model!r}: {parts.scheme}://{parts.netloc}"
            raise TranslationError(500, message, "bad_api_base")
        out = {str(name).lower(): str(value) for name, value in headers.items() if value is not None}
        if key is None:
            # LiteLLM falls back to keys in the environment; a keyless endpoint must not get one.
            for name in _CREDENTIAL_HEADERS:
                out.pop(name, None)
        out.update(self._extra_headers)
        out.setdefault("content-type", "application/json")
        out["content-length"] = str(len(raw))
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return UpstreamRequest(
            path=path, authority=parts.netloc, scheme=parts.scheme, headers=out, body=raw, stream=stream
        )


def _copy(payload: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of a JSON payload: LiteLLM edits messages in place, and a retry needs the original."""
    try:
        copied = orjson.loads(orjson.dumps(payload))
    except TypeError as exc:
        raise TranslationError(400, f"The request is not plain JSON: {exc}", "invalid_request") from exc
    if not isinstance(copied, dict):
        raise TranslationError(400, "The request body must be a JSON object.", "invalid_request")
    return copied


def embedding_input(payload: dict[str, Any]) -> Any:
    """The embeddings request's `input`, refused when missing or empty."""
    inputs = payload.get("input")
    if inputs is None or inputs == "" or inputs == []:
        raise TranslationError(400, "'input' is required for embeddings.", "invalid_request")
    return inputs


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise TranslationError(502, "The provider answered with malformed JSON.", "bad_upstream_response") from exc
    if not isinstance(parsed, dict):
        raise TranslationError(502, "The provider answered with JSON that is not an object.", "bad_upstream_response")
    return parsed


def _mask(message: str, key: str | None) -> str:
    return message.replace(key, "***") if key and len(key) >= _MIN_MASKED_KEY else message


def _json_default(value: Any) -> Any:
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        return dump(exclude_none=True)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
