"""Shared test settings."""

from __future__ import annotations

import os

# LiteLLM must never try to fetch its cost map: these machines have no internet.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
