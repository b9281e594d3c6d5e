"""Shared test settings."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.sdk_clients import close_all

# LiteLLM must never try to fetch its cost map: these machines have no internet.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "True")


@pytest.fixture(autouse=True)
def _close_sdk_clients() -> Iterator[None]:
    """Close the SDK clients a test made through tests.support.sdk_clients."""
    yield
    close_all()
