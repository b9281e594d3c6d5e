"""What routing by policy adds to a request, in process: the router processor's request side, `fast` against `auto`.

    .venv/bin/python -m benchmarks.routing_overhead [--requests 2000] [--rounds 3]

The gateway is built from the shipped envoy.yaml (no authentication, no privacy policy, limits
and cache off, the conversation store in this process), and each request's headers and body go
through `RouterProcessor` as Envoy would send them, up to the reply that routes it; no provider,
no Envoy. `fast` is a name lookup; `auto` applies the shipped policy (its rules, then the
classifier, which sends these prompts to gpt-4o-mini) and keeps conversation tiers. The two
alternate, round after round, so a noisy machine slows both alike; the figure is CPU time per
request (time.process_time), and the difference is what the policy costs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import orjson
import yaml

from extproc.app import build_gateway
from extproc.config.envoy_yaml import DEFAULT_CONFIG
from extproc.decisions import Changes
from extproc.ops.envoy_config import render
from extproc.redaction.policy import PrivacyPolicies
from extproc.router.processor import RouterProcessor
from extproc.tenancy.settings import Settings
from extproc.upstream.credentials import Credentials

# About 200 tokens, a request of the kind the classifier is measured on.
PROMPT = (
    "Please help me write a short, friendly note to my team saying that the office will be closed on Friday "
    "for maintenance, that everyone should take their laptops home on Thursday evening, and that the usual "
    "stand-up will happen online at ten. Mention that the coffee machine is being replaced as well, so the "
    "kitchen will be out of use until Monday, and thank them for their patience. Keep it warm but brief. "
) * 2


async def _per_request(processor_of: object, model: str, requests: int, round_id: int) -> float:
    """CPU seconds per request for `requests` requests to `model`."""
    headers = {":method": "POST", ":path": "/v1/chat/completions", "content-type": "application/json"}
    started = time.process_time()
    for n in range(requests):
        processor = processor_of()  # type: ignore[operator]
        await processor.request_headers(dict(headers), False)
        body = {"model": model, "messages": [{"role": "user", "content": f"{PROMPT} (#{round_id}-{n})"}], "max_tokens": 64}
        result = await processor.request_body(orjson.dumps(body))
        assert isinstance(result, Changes), result
    return (time.process_time() - started) / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    config = render(yaml.safe_load(DEFAULT_CONFIG.read_text()))
    gateway = build_gateway(config, credentials=Credentials({"FAKE_PROVIDER_API_KEY": "k"}),
                            settings=Settings(auth_mode="none"), privacy=PrivacyPolicies())  # fmt: skip

    def processor_of() -> RouterProcessor:
        return RouterProcessor(gateway)

    figures: dict[str, list[float]] = {"fast": [], "auto": []}
    for round_id in range(args.rounds):
        for model in ("fast", "auto"):
            figures[model].append(asyncio.run(_per_request(processor_of, model, args.requests, round_id)))
    for model, values in figures.items():
        print(f"{model}: CPU per request {', '.join(f'{v * 1e6:.0f}' for v in values)} µs "
              f"(median {statistics.median(values) * 1e6:.0f} µs)")  # fmt: skip
    added = statistics.median(figures["auto"]) - statistics.median(figures["fast"])
    print(f"the policy adds {added * 1e6:.0f} µs of CPU per request (medians)")


if __name__ == "__main__":
    main()
