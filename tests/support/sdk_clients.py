"""SDK clients for tests, closed after each test by an autouse fixture in tests/conftest.py.

An SDK client that is dropped without `close()` keeps its pooled sockets until the
garbage collector finds it, and the collector may run in any later test; with
warnings as errors, that test then fails on a ResourceWarning it did not cause.
"""

from __future__ import annotations

import anthropic
import openai

# The gateway key every end-to-end stack accepts (tenant `test`); see tests/e2e/conftest.py.
TEST_API_KEY = "sk-gw-test-0123456789abcdefghijklmnopqrstuvwxyzABCDEFG"
# Headers that carry it, for plain HTTP clients.
AUTH = {"authorization": f"Bearer {TEST_API_KEY}"}
# An admin key (tenant `ops`) every end-to-end stack accepts too, for GET /metrics.
TEST_ADMIN_KEY = "sk-gw-admin-0123456789abcdefghijklmnopqrstuvwxyzABCD"
ADMIN_AUTH = {"authorization": f"Bearer {TEST_ADMIN_KEY}"}

_open: list[openai.OpenAI | anthropic.Anthropic] = []


def openai_client(base_url: str, api_key: str = TEST_API_KEY) -> openai.OpenAI:
    """A sync OpenAI client without retries, closed when the test ends."""
    client = openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0)
    _open.append(client)
    return client


def anthropic_client(base_url: str, api_key: str = TEST_API_KEY) -> anthropic.Anthropic:
    """A sync Anthropic client without retries, closed when the test ends."""
    client = anthropic.Anthropic(base_url=base_url, api_key=api_key, max_retries=0)
    _open.append(client)
    return client


def close_all() -> None:
    """Close every sync client made since the last call."""
    while _open:
        _open.pop().close()
