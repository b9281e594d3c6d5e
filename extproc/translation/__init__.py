"""Provider translation on LiteLLM: OpenAI requests to each provider's wire format and back.

Importing this package imports LiteLLM (about 3 s): do it once, at start-up.
"""

from extproc.translation import provider_variants  # noqa: F401 - registers the providers' translators
from extproc.translation.errors import TranslationError
from extproc.translation.providers import ProviderTranslator, UpstreamRequest
from extproc.translation.streams import StreamTranslator

__all__ = ["ProviderTranslator", "StreamTranslator", "TranslationError", "UpstreamRequest"]
