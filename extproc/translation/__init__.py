"""Provider translation on LiteLLM: OpenAI requests to each provider's wire format and back.

Importing this package imports LiteLLM (about 3 s): do it once, at start-up.
"""

from .errors import TranslationError
from .providers import ProviderTranslator, UpstreamRequest
from .streams import StreamTranslator

__all__ = ["ProviderTranslator", "StreamTranslator", "TranslationError", "UpstreamRequest"]
