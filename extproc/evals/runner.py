"""Run a suite through a gateway over HTTP, as any client would, and score every answer.

The runner is a plain HTTP client (httpx) of the gateway's OpenAI-compatible
endpoints, so it works against any deployment: a laptop's `llm-gateway up`, a
staging cluster, production. Cases run `concurrency` at a time.

With `local_prompts` (`--prompts DIR`), prompt references are expanded here
from the prompt files in DIR, by the same resolver the gateway uses, and the
expanded messages are sent: a prompt change is evaluated before it is pushed.
A local reference's version or label is ignored (the file is the version) and
the result records `local-<digest>` as the prompt version.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from extproc.errors import GatewayError
from extproc.evals.base import PROMPT_VERSION_HEADER, Answer, Score
from extproc.evals.results import ERROR, FAILED, PASSED, SKIPPED, CaseResult, SuiteResult
from extproc.evals.scorers import Status
from extproc.evals.suite import ENDPOINTS, Case, Suite
from extproc.prompts.model import GLOBAL, PromptTemplate
from extproc.prompts.resolver import PromptResolver, parse_reference
from extproc.prompts.store import MemoryPromptStore

JUDGE_DEFAULTS = {"temperature": 0, "max_tokens": 1024}


class Runner:
    """Sends a suite's cases to a gateway and scores the answers."""

    def __init__(
        self,
        gateway_url: str,
        key: str | None = None,
        concurrency: int = 4,
        timeout_seconds: float = 60.0,
        local_prompts: Mapping[str, PromptTemplate] | None = None,
    ) -> None:
        self.gateway_url = gateway_url.rstrip("/")
        self._headers = {"authorization": f"Bearer {key}"} if key else {}
        self._concurrency = max(concurrency, 1)
        self._timeout = timeout_seconds
        self._local = dict(local_prompts or {})
        self._resolver: PromptResolver | None = None

    async def run(self, suite: Suite, only: set[str] | None = None) -> SuiteResult:
        """Every case of `suite` (or those in `only`), scored."""
        started, clock = time.time(), time.monotonic()
        limit = asyncio.Semaphore(self._concurrency)
        cases = [case for case in suite.cases if only is None or case.id in only]
        async with httpx.AsyncClient(base_url=self.gateway_url, headers=self._headers, timeout=self._timeout) as client:

            async def bounded(case: Case) -> CaseResult:
                async with limit:
                    return await self._run_case(client, suite, case)

            results = await asyncio.gather(*(bounded(case) for case in cases))
        return SuiteResult(suite.name, self.gateway_url, started, time.monotonic() - clock, list(results))

    async def _run_case(self, client: httpx.AsyncClient, suite: Suite, case: Case) -> CaseResult:
        prompt = case.prompt["name"] if case.prompt else None
        result = CaseResult(case.id, SKIPPED, case.model or "(prompt default)", prompt=prompt)
        if case.skip is not None:
            result.detail = case.skip
            return result
        body, local_version, local_error = await self._expand(case)
        result.model = body.get("model") or result.model
        try:
            answer = local_error or await send(client, case.endpoint, body, case.headers, case.stream)
        except httpx.HTTPError as exc:
            result.status, result.detail = ERROR, f"no answer from the gateway: {type(exc).__name__}: {exc}"
            return result
        result.http_status, result.latency_s, result.served_model = answer.status, answer.latency_s, answer.served_model
        if prompt is not None:
            result.prompt_version = local_version or answer.headers.get(PROMPT_VERSION_HEADER) or _asked_version(case)
        if not answer.ok and not any(isinstance(scorer, Status) for scorer in case.scorers):
            detail = f"the gateway answered {answer.status}: {answer.text[:300]}"
            result.scores = [Score(scorer.name, False, detail) for scorer in case.scorers]
        else:
            context = _CaseContext(client, suite, case, body)
            try:
                result.scores = [await scorer.score(answer, context) for scorer in case.scorers]
            except httpx.HTTPError as exc:
                result.status, result.detail = ERROR, f"no answer from the gateway for a judge: {type(exc).__name__}: {exc}"
                return result
        result.status = PASSED if all(score.passed for score in result.scores) else FAILED
        return result

    async def _expand(self, case: Case) -> tuple[dict[str, Any], str | None, Answer | None]:
        """The body to send; with local prompts, expanded here (or the error the gateway would answer)."""
        body = case.body()
        if case.prompt is None or not self._local:
            return body, None, None
        resolver = await self._local_resolver()
        local_file = self._local.get(str(body["prompt"].get("name")))
        version = f"local-{local_file.digest.removeprefix('sha256:')[:12]}" if local_file is not None else None
        try:
            reference = parse_reference(body["prompt"])
            local = {"name": reference.name, "version": 1, "variables": dict(reference.variables)}
            rendered = await resolver.resolve("local", local)
        except GatewayError as exc:
            return body, version, Answer(exc.status, exc.message, orjson.loads(exc.body()))
        return rendered.apply(body), version, None

    async def _local_resolver(self) -> PromptResolver:
        if self._resolver is None:
            store = MemoryPromptStore()
            for template in self._local.values():
                await store.add_version(GLOBAL, template, None, ["production"])
            self._resolver = PromptResolver(store)
        return self._resolver


class _CaseContext:
    """What judge scorers may ask while scoring one case (see `base.Context`)."""

    def __init__(self, client: httpx.AsyncClient, suite: Suite, case: Case, body: dict[str, Any]) -> None:
        self._client, self._suite, self._case, self._body = client, suite, case, body
        self._others: dict[str, Answer] = {}
        self.request_text = _request_text(body)

    async def judge(self, messages: list[dict[str, Any]]) -> Answer:
        body = {**JUDGE_DEFAULTS, **self._suite.judge_params, "model": self._suite.judge_model, "messages": messages}
        return await send(self._client, "chat", body, {}, stream=False)

    async def answer_with(self, model: str) -> Answer:
        if model not in self._others:
            body = {**self._body, "model": model}
            self._others[model] = await send(self._client, self._case.endpoint, body, self._case.headers, self._case.stream)
        return self._others[model]


async def send(
    client: httpx.AsyncClient, endpoint: str, body: dict[str, Any], headers: Mapping[str, str], stream: bool
) -> Answer:
    """One request to the gateway; the Answer with the text to score (an error's message for an error)."""
    started = time.monotonic()
    path = ENDPOINTS[endpoint]
    if stream:
        async with client.stream("POST", path, json=body, headers=dict(headers)) as response:
            if response.status_code >= 300:
                raw = await response.aread()
                return _answer(response.status_code, raw, response.headers, started)
            text, error = await _read_stream(response)
            status = 200 if error is None else 502  # an error event inside a 200 stream counts as a failed answer
            return Answer(status, text if error is None else error, None, _lower(response.headers), time.monotonic() - started)
    response = await client.post(path, json=body, headers=dict(headers))
    return _answer(response.status_code, response.content, response.headers, started)


def _answer(status: int, raw: bytes, headers: httpx.Headers, started: float) -> Answer:
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return Answer(status, raw.decode("utf-8", "replace")[:2000], None, _lower(headers), time.monotonic() - started)
    return Answer(status, _text_of(payload), payload, _lower(headers), time.monotonic() - started)


def _text_of(payload: Any) -> str:
    """The completion's text, an error's message, or nothing (embeddings)."""
    if not isinstance(payload, dict):
        return ""
    error = payload.get("error")
    if isinstance(error, dict):
        return str(error.get("message", ""))
    choices = payload.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message") or {}
        content = message.get("content")
        if isinstance(content, str):
            return content
        if message.get("tool_calls"):
            return orjson.dumps(message["tool_calls"]).decode()
    return ""


async def _read_stream(response: httpx.Response) -> tuple[str, str | None]:
    """The streamed completion's text, and the message of an error event if the stream carried one."""
    parts: list[str] = []
    async for line in response.aiter_lines():
        if not line.startswith("data:"):
            continue
        data = line[5:].strip()
        if data == "[DONE]":
            break
        try:
            event = orjson.loads(data)
        except orjson.JSONDecodeError:
            return "".join(parts), f"a stream event that is not JSON: {data[:200]!r}"
        if isinstance(event, dict) and isinstance(event.get("error"), dict):
            return "".join(parts), str(event["error"].get("message", "an error event"))
        for choice in event.get("choices") or []:
            content = (choice.get("delta") or {}).get("content")
            if isinstance(content, str) and choice.get("index", 0) == 0:
                parts.append(content)
    return "".join(parts), None


def _request_text(body: dict[str, Any]) -> str:
    lines = [f"{m.get('role')}: {m.get('content')}" for m in body.get("messages") or [] if isinstance(m, dict)]
    if "prompt" in body:
        lines.insert(0, f"(prompt {orjson.dumps(body['prompt']).decode()})")
    if "input" in body:
        lines.append(f"input: {body['input']}")
    return "\n".join(lines)


def _asked_version(case: Case) -> str:
    prompt = case.prompt or {}
    if "version" in prompt:
        return str(prompt["version"])
    return f"label:{prompt.get('label', 'production')}"


def _lower(headers: httpx.Headers) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}
