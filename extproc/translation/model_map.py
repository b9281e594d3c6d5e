"""LiteLLM's model map and token counter, for pricing and estimates: the only way in from outside translation/.

The cost map gives per-token prices and output limits; the token counter
counts prompts and completions with each model's tokenizer. Both come from
the files shipped in the pinned LiteLLM wheel (`litellm_offline`).
"""

from __future__ import annotations

from typing import Any

import litellm  # after litellm_offline

from extproc.translation import litellm_offline  # noqa: F401 - before litellm
from extproc.translation._litellm import counting_model

litellm.suppress_debug_info = True


def model_info(model: str) -> dict[str, Any]:
    """The cost-map entry of `model` (prices, `max_output_tokens`...); raises for an unmapped model."""
    return dict(litellm.get_model_info(model))


def vector_size(model: str) -> int | None:
    """The vector size of an embedding model (`output_vector_size`), if the map knows it."""
    for name in (model, model.split("/", 1)[-1]):
        size = (litellm.model_cost.get(name) or {}).get("output_vector_size")
        if isinstance(size, int) and size > 0:
            return size
    return None


def cost_per_token(model: str, prompt_tokens: int, completion_tokens: int, cached_tokens: int) -> tuple[float, float]:
    """(prompt, completion) cost in USD as LiteLLM computes it; raises for an unmapped model."""
    prompt, completion = litellm.cost_per_token(
        model=model,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        cache_read_input_tokens=cached_tokens,
    )
    return float(prompt), float(completion)


def count_messages(model: str, messages: list[Any], tools: Any = None) -> int:
    """Prompt tokens of chat messages (and tools), with `model`'s tokenizer."""
    return int(litellm.token_counter(model=counting_model(model), messages=messages, tools=tools))


def count_text(model: str, text: str, completion: bool = False) -> int:
    """Tokens of a text (a completion's, when `completion`), with `model`'s tokenizer."""
    if completion:
        return int(litellm.token_counter(model=counting_model(model), text=text, count_response_tokens=True))
    return int(litellm.token_counter(model=counting_model(model), text=text))
