"""The LiteLLM surface: every LiteLLM internal the gateway touches, and nothing else.

LiteLLM's provider internals move between releases (the project pins 1.106.2),
so they are imported here and only here. Each function names the LiteLLM step
it stands for, in the order `litellm.completion()` runs them. The gateway uses
LiteLLM to translate, never to send: Envoy does all networking, and the two
LiteLLM habits that would reach the network are switched off at import
(`_no_network`).
"""

from __future__ import annotations

import datetime
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import litellm
from litellm.anthropic_beta_headers_manager import update_request_with_filtered_beta
from litellm.litellm_core_utils.litellm_logging import Logging
from litellm.litellm_core_utils.prompt_templates import image_handling
from litellm.llms.anthropic.chat.handler import ModelResponseIterator as AnthropicStreamParser
from litellm.llms.anthropic.chat.transformation import ANTHROPIC_TOOL_NAME_REVERSE_MAP_KEY
from litellm.llms.base_llm.chat.transformation import BaseConfig
from litellm.llms.vertex_ai.gemini import vertex_and_google_ai_studio_gemini as gemini_chat
from litellm.llms.vertex_ai.gemini.transformation import transform_request_body as gemini_request_body
from litellm.llms.vertex_ai.gemini_embeddings import batch_embed_content_transformation as gemini_embed
from litellm.types.llms.vertex_ai import VertexAIBatchEmbeddingsResponseObject
from litellm.types.utils import EmbeddingResponse, LlmProviders, ModelResponse, all_litellm_params
from litellm.utils import (
    ProviderConfigManager,
    get_optional_params,
    get_optional_params_embeddings,
    validate_and_fix_openai_messages,
    validate_chat_completion_tool_choice,
    validate_openai_optional_params,
)

from extproc.translation import litellm_offline  # noqa: F401 - must come before litellm

UnsupportedParamsError = litellm.UnsupportedParamsError
ImageFetchError = litellm.ImageFetchError
AZURE_DEFAULT_API_VERSION: str = litellm.AZURE_DEFAULT_API_VERSION


def _no_network() -> None:
    # Some provider transforms download image URLs to inline them (Google AI Studio
    # does it for every https image URL, Ollama for any): a size limit of 0 makes
    # LiteLLM refuse instead (ImageFetchError), and the request fails as a client
    # error. Unknown model strings would print LiteLLM's banner to stdout.
    image_handling.MAX_IMAGE_URL_DOWNLOAD_SIZE_MB = 0
    litellm.suppress_debug_info = True


_no_network()


def _memoize_model_info() -> None:
    # LiteLLM looks the model up in its cost map about ten times per translated
    # request (supported parameters, capability checks such as adaptive
    # thinking): some 40% of an Anthropic translation's CPU. The map is the
    # local, static copy here (LiteLLM memoises the same lookup for pricing), so
    # the lookup is memoised per (model, provider, api_base). Callers that pass
    # an api_key keep the original: a key must never become a cache key.
    original = litellm.utils.get_model_info_helper
    cached = functools.lru_cache(maxsize=1024)(original)

    def get_model_info_helper(
        model: str, custom_llm_provider: str | None = None, api_base: str | None = None, api_key: str | None = None
    ) -> Any:
        if api_key is not None:
            return original(model, custom_llm_provider, api_base, api_key)
        return cached(model, custom_llm_provider, api_base)

    litellm.utils.get_model_info_helper = get_model_info_helper


_memoize_model_info()

# get_optional_params' keyword arguments: the OpenAI parameters it maps, plus controls.
_OPTIONAL_PARAM_NAMES = frozenset(get_optional_params.__code__.co_varnames[: get_optional_params.__code__.co_argcount])
# Those a request body must not set: they steer LiteLLM itself.
_CONTROL_ARGS = frozenset(
    {
        "model",
        "custom_llm_provider",
        "max_retries",
        "extra_headers",
        "api_version",
        "drop_params",
        "allowed_openai_params",
        "additional_drop_params",
        "base_model",
        "messages",
    }
)
_EMBEDDING_ARGS = ("user", "encoding_format", "dimensions")


@dataclass(slots=True)
class ChatCall:
    """One chat request as LiteLLM's provider configs take it, request side and answer side."""

    messages: list[dict[str, Any]]
    optional_params: dict[str, Any]
    litellm_params: dict[str, Any] = field(default_factory=dict)
    stream: bool = False
    json_mode: bool = False
    fake_stream: bool = False
    extra_body: dict[str, Any] | None = None


# -- providers -----------------------------------------------------------------------------------


def resolve(model: str, api_base: str | None) -> tuple[str, str, str | None]:
    """(upstream model, provider, api_base) for a LiteLLM model string; ValueError if unknown."""
    try:
        upstream, provider, _, default_base = litellm.get_llm_provider(model, api_base=api_base)
    except Exception as exc:  # LiteLLM raises its BadRequestError for unknown providers.
        raise ValueError(f"LiteLLM knows no provider for model string {model!r}") from exc
    return upstream, provider, api_base or default_base


def chat_config(model: str, provider: str) -> BaseConfig:
    """LiteLLM's chat config of a provider; ValueError if it has none."""
    config = ProviderConfigManager.get_provider_chat_config(model=model, provider=LlmProviders(provider))
    if config is None:
        raise ValueError(f"LiteLLM has no chat translation for provider {provider!r}")
    return config


def supported_chat_params(config: BaseConfig, model: str) -> frozenset[str]:
    """The OpenAI chat parameters a provider config maps."""
    return frozenset(config.get_supported_openai_params(model=model) or ())


# -- chat requests ---------------------------------------------------------------------------------


def prepare_chat(
    config: BaseConfig,
    model: str,
    provider: str,
    payload: dict[str, Any],
    *,
    drop_params: bool = False,
    api_version: str | None = None,
) -> ChatCall:
    """Validate an OpenAI chat payload and map its parameters, as litellm.completion() does.

    `payload` must be the caller's own copy: LiteLLM edits messages in place.
    Body fields that are LiteLLM settings (api_base, mock_response...) are ignored.
    """
    messages = payload.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        raise ValueError("'messages' must be a non-empty array of message objects")
    messages = validate_and_fix_openai_messages(messages=messages)
    messages = config.translate_developer_role_to_system_role(messages=messages)
    named: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    for key, value in payload.items():
        if value is None or key in _CONTROL_ARGS:
            continue
        if key in _OPTIONAL_PARAM_NAMES:
            named[key] = value
        elif key not in all_litellm_params:
            extras[key] = value  # provider-specific parameters (top_k...), as completion() passes them on
    if "tool_choice" in named:
        named["tool_choice"] = validate_chat_completion_tool_choice(tool_choice=named["tool_choice"], model=model)
    if "stop" in named:
        named["stop"] = validate_openai_optional_params(stop=named["stop"])
    optional = get_optional_params(
        model=model,
        custom_llm_provider=provider,
        messages=messages,
        drop_params=drop_params or None,
        api_version=api_version,
        **named,
        **extras,
    )
    stream = optional.get("stream") is True
    if not stream:
        optional.pop("stream", None)
    fake_stream = bool(optional.pop("fake_stream", False)) or config.should_fake_stream(
        model=model, stream=stream, custom_llm_provider=provider
    )
    return ChatCall(
        messages=messages,
        optional_params=optional,
        stream=stream,
        json_mode=bool(optional.pop("json_mode", False)),
        fake_stream=fake_stream,
        extra_body=optional.pop("extra_body", None) or None,
    )


def chat_headers(
    config: BaseConfig, model: str, call: ChatCall, api_key: str | None, api_base: str | None
) -> dict[str, Any]:
    """The provider's request headers, credentials included (config.validate_environment)."""
    return config.validate_environment(
        headers={},
        model=model,
        messages=call.messages,
        optional_params=call.optional_params,
        litellm_params=call.litellm_params,
        api_key=api_key,
        api_base=api_base,
    )


def chat_url(config: BaseConfig, model: str, call: ChatCall, api_key: str | None, api_base: str | None) -> str:
    """The provider's chat URL (config.get_complete_url)."""
    return config.get_complete_url(
        api_base=api_base,
        api_key=api_key,
        model=model,
        optional_params=call.optional_params,
        litellm_params=call.litellm_params,
        stream=call.stream,
    )


def chat_body(
    config: BaseConfig, model: str, call: ChatCall, headers: dict[str, Any], *, own_params: bool = False
) -> dict[str, Any]:
    """The provider's request body (config.transform_request), finished as LiteLLM's HTTP handler does.

    `own_params`: give the transform a copy of the parameters, as LiteLLM's Anthropic handler does.
    """
    body = config.transform_request(
        model=model,
        messages=call.messages,
        optional_params=dict(call.optional_params) if own_params else call.optional_params,
        litellm_params=call.litellm_params,
        headers=headers,
    )
    if call.extra_body:
        extra = config.transform_extra_body(
            extra_body=call.extra_body, request=body, model=model, litellm_params=call.litellm_params
        )
        body = {**body, **extra}
    if call.fake_stream:
        body.pop("stream", None)
    elif call.stream and config.supports_stream_param_in_request_body:
        body["stream"] = True
    return body


def filter_anthropic_beta(headers: dict[str, Any], body: dict[str, Any]) -> None:
    """Drop the anthropic-beta values Anthropic's API does not take, as LiteLLM's handler does."""
    update_request_with_filtered_beta(headers=headers, request_data=body, provider="anthropic")


def gemini_url(
    model: str, api_key: str, stream: bool, api_base: str | None, mode: str = "chat"
) -> tuple[str, dict[str, str]]:
    """(URL, auth headers) of a Google AI Studio call; the key goes in x-goog-api-key, never the URL."""
    auth, url = _GEMINI_URLS.get_token_and_url(
        model=model,
        auth_header=None,
        gemini_api_key=api_key,
        vertex_project=None,
        vertex_location=None,
        vertex_credentials=None,
        stream=stream,
        custom_llm_provider="gemini",
        api_base=api_base,
        mode=mode,  # type: ignore[arg-type]
    )
    return url, auth if isinstance(auth, dict) else {}


_GEMINI_URLS = gemini_chat.VertexLLM()


def gemini_body(model: str, call: ChatCall) -> dict[str, Any]:
    """A generateContent body; without LiteLLM's context-cache step, which would call Google."""
    call.optional_params.pop("stream", None)
    return dict(
        gemini_request_body(
            messages=call.messages,
            model=model,
            optional_params=call.optional_params,
            custom_llm_provider="gemini",
            litellm_params=call.litellm_params,
            cached_content=None,
        )
    )


# -- chat answers --------------------------------------------------------------------------------


def new_logging(model: str, call: ChatCall | None = None) -> Logging:
    """A LiteLLM Logging object for the transforms that want one; no callbacks are registered on it."""
    logging = Logging(
        model=model,
        messages=None,
        stream=bool(call and call.stream),
        call_type="completion",
        start_time=datetime.datetime.now(),
        litellm_call_id="gateway",
        function_id="gateway",
    )
    logging.optional_params = call.optional_params if call is not None else {}
    return logging


def chat_response(config: BaseConfig, model: str, call: ChatCall, body: bytes) -> ModelResponse:
    """LiteLLM's reading of a provider's buffered chat answer (config.transform_response)."""
    return config.transform_response(
        model=model,
        raw_response=httpx.Response(200, content=body, headers={"content-type": "application/json"}),
        model_response=ModelResponse(),
        logging_obj=new_logging(model, call),
        request_data={},
        messages=call.messages,
        optional_params=call.optional_params,
        litellm_params=call.litellm_params,
        encoding=None,
        api_key=None,
        json_mode=call.json_mode,
    )


def stream_parser(config: BaseConfig, provider: str, model: str, call: ChatCall) -> Any:
    """The provider's stream event parser: `chunk_parser(event dict)` returns a ModelResponseStream."""
    empty: Iterator[str] = iter(())
    if provider == "anthropic":
        return AnthropicStreamParser(
            streaming_response=empty,
            sync_stream=True,
            json_mode=call.json_mode,
            speed=call.optional_params.get("speed"),
            tool_name_reverse_map=call.litellm_params.get(ANTHROPIC_TOOL_NAME_REVERSE_MAP_KEY),
        )
    if provider == "gemini":
        return gemini_chat.ModelResponseIterator(
            streaming_response=empty, sync_stream=True, logging_obj=new_logging(model, call)
        )
    parser = config.get_model_response_iterator(streaming_response=empty, sync_stream=True, json_mode=call.json_mode)
    if parser is None or not hasattr(parser, "chunk_parser"):
        raise ValueError(f"LiteLLM has no stream parser for provider {provider!r}")
    return parser


# -- embeddings ----------------------------------------------------------------------------------


def embedding_params(
    model: str, provider: str, payload: dict[str, Any], *, drop_params: bool = False
) -> dict[str, Any]:
    """The provider's embedding parameters, mapped as litellm.embedding() maps them."""
    named = {key: payload[key] for key in _EMBEDDING_ARGS if payload.get(key) is not None}
    extras = {
        key: value
        for key, value in payload.items()
        if value is not None and key not in ("model", "input", *_EMBEDDING_ARGS) and key not in all_litellm_params
    }
    mapped = get_optional_params_embeddings(
        model=model, custom_llm_provider=provider, drop_params=drop_params or None, **named, **extras
    )
    return dict(mapped or {})


def embedding_config(model: str, provider: str) -> Any:
    """LiteLLM's embedding config of a provider; None where litellm.embedding() hands over to the openai SDK."""
    return ProviderConfigManager.get_provider_embedding_config(model=model, provider=LlmProviders(provider))


def gemini_embedding_body(model: str, inputs: Any, optional_params: dict[str, Any]) -> dict[str, Any]:
    """A batchEmbedContents body; Files API references are refused (resolving them calls Google)."""
    if any(gemini_embed.is_file_reference(source) for source in gemini_embed.flatten_media_sources(inputs)):
        raise ValueError("Gemini file references (files/...) cannot be embedded through the gateway")
    return dict(
        gemini_embed.transform_openai_input_gemini_content(
            input=inputs, model=model, optional_params=optional_params, resolved_files={}, drop_params=False
        )
    )


def gemini_embedding_response(model: str, inputs: Any, body: bytes) -> EmbeddingResponse:
    """LiteLLM's reading of a batchEmbedContents answer."""
    predictions = VertexAIBatchEmbeddingsResponseObject(**httpx.Response(200, content=body).json())
    return gemini_embed.process_response(
        model=model, model_response=EmbeddingResponse(), _predictions=predictions, input=inputs
    )


# -- errors --------------------------------------------------------------------------------------


def error_message(exc: BaseException) -> str:
    """The human part of a LiteLLM exception's message (no LiteLLM prefixes or settings advice)."""
    message = getattr(exc, "message", None)
    text = message if isinstance(message, str) and message else str(exc)
    for prefix in ("litellm.UnsupportedParamsError: ", "litellm.BadRequestError: ", "litellm.ImageFetchError: "):
        text = text.removeprefix(prefix)
    # LiteLLM's advice about its own settings means nothing to a gateway client.
    return text.split(" To drop these, set", 1)[0].split(". To drop these", 1)[0].strip()


# LiteLLM counts with tiktoken's default encoding when a model's own tokenizer
# cannot be had; this model name selects that encoding without asking for one.
_FALLBACK_COUNTING_MODEL = "gpt-3.5-turbo"


@functools.lru_cache(maxsize=512)
def counting_model(model: str) -> str:
    """The model name to count `model`'s tokens with.

    For Llama, Cohere and similar models LiteLLM looks for a Hugging Face
    tokenizer on every count, fails offline (about 1.4 ms), logs a warning, and
    falls back to tiktoken. Finding that out once gives the same counts without
    the cost and the log line per request.
    """
    try:
        litellm.utils._return_huggingface_tokenizer(model)
    except Exception:
        return _FALLBACK_COUNTING_MODEL
    return model
