"""Keep LiteLLM off the network and quiet. Import this before `litellm`.

LiteLLM fetches its model cost map and Anthropic's beta-header table from
GitHub, and tokenizers from Hugging Face, at import or first use unless told
not to. These machines have no
internet, and a gateway's prices and headers must not change under it at
run time: both come from the files shipped in the pinned LiteLLM wheel.
"""

from __future__ import annotations

import logging
import os

# The third stops LiteLLM's token counter from retrying huggingface.co for
# tokenizers (Llama and others) for about 30 s; it falls back to tiktoken.
OFFLINE_SWITCHES = ("LITELLM_LOCAL_MODEL_COST_MAP", "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS", "HF_HUB_OFFLINE")

for _name in OFFLINE_SWITCHES:
    os.environ.setdefault(_name, "True")

# LiteLLM logs an INFO line per translated request ("LiteLLM completion()
# model=..."), through its own handler and again through the root logger: a
# cost on the hot path and noise in the service log. Its warnings stay.
os.environ.setdefault("LITELLM_LOG", "WARNING")
for _logger in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
    logging.getLogger(_logger).setLevel(logging.WARNING)
