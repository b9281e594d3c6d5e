"""Prompts as versioned resources: templates with numbered versions and labels, per tenant and global.

- `model`: what a prompt, a version and a head (latest version and labels) are.
- `template`: rendering in Jinja2's sandbox, strict variables, bounded size and work.
- `files`: the YAML prompt files users keep in their repository, validated.
- `diff`: what changed between two versions.
- `store`, `sqlite`, `redis`, `postgres`: where versions and labels live (one protocol).
- `resolver`: a request's `prompt` field to the messages and defaults it is served with.
- `api`: the `/v1/gateway/prompts` API as plain functions; `cli`: `llm-gateway prompts`.

See docs/prompts-and-evals.md and docs/adr/0009-where-prompts-are-stored.md.
"""

from .model import DEFAULT_LABEL, GLOBAL, LATEST, PromptHead, PromptInvalid, PromptTemplate, PromptVersion
from .resolver import PromptReference, PromptResolver, RenderedPrompt, parse_reference
from .store import MemoryPromptStore, PromptStore, open_prompt_store

__all__ = [
    "DEFAULT_LABEL",
    "GLOBAL",
    "LATEST",
    "MemoryPromptStore",
    "PromptHead",
    "PromptInvalid",
    "PromptReference",
    "PromptResolver",
    "PromptStore",
    "PromptTemplate",
    "PromptVersion",
    "RenderedPrompt",
    "open_prompt_store",
    "parse_reference",
]
