"""Cache: answer a request the tenant has asked before on the same route, without a provider.

On the way in the stage decides hit, miss or bypass (the client's
`Cache-Control: no-store` / `no-cache`, a temperature above the route's
bound). Exact lookup first; on a semantic route, then the nearest earlier
prompt of the same tenant and scope that no guard refuses. With a fixed
`threshold`, it hits when its similarity reaches the threshold. Otherwise the
learned model (`cache/learned.py`) decides, within the tenant's error and
exploration budgets on the route (`cache/budget.py`): hit, miss, or explore
(the provider answers, and the answer later labels the entry:
`cache/exploration.py`). A hit ends the pipeline: its stored answer is
written in the client's format, buffered or as an SSE stream, through the
stages that saw the request (so through this request's output policy). On
the way back a miss takes the provider's answer as the model wrote it (a
stream is put back together chunk by chunk), and at the end stores it, priced
(accounting ran before it on the way back), with its prompt's embedding;
never an error. The exact entry is written once the answer has gone: the
client does not wait for the store.
"""

from __future__ import annotations

import asyncio
import copy
import time
from typing import TYPE_CHECKING, Any

from extproc.cache.budget import RouteBudget
from extproc.cache.exploration import Exploration, Explorer
from extproc.cache.guards import refusals
from extproc.cache.keys import exact_key
from extproc.cache.learned import Calibration, decide
from extproc.cache.policy import DEFAULT_TEMPERATURE, CachePolicies, CachePolicy
from extproc.cache.replay import StreamAssembler
from extproc.cache.semantic import Candidate, SemanticIndex, last_user_text, scope_key
from extproc.cache.store import CacheStore, Entry
from extproc.context import RequestContext
from extproc.cost.usage import usage_from_openai
from extproc.decisions import PROVIDER_HEADER, SERVED_MODEL_HEADER, Reply
from extproc.stages.accounting import COST_HEADER
from extproc.stages.base import Stage
from extproc.telemetry import metrics

if TYPE_CHECKING:
    from extproc.cache.embeddings import Embedder

CACHE_HEADER = "x-gateway-cache"
AGE_HEADER = "x-gateway-cache-age"
MATCH_HEADER = "x-gateway-cache-match"
SIMILARITY_HEADER = "x-gateway-cache-similarity"
# On a miss that explores: the similarity of the entry the fresh answer will be compared with.
EXPLORE_HEADER = "x-gateway-cache-explore"


class CacheStage(Stage):
    """Look the request up; store its answer when it was a miss."""

    name = "cache"

    def __init__(
        self,
        policies: CachePolicies,
        store: CacheStore,
        index: SemanticIndex | None = None,
        embedder: Embedder | None = None,
    ) -> None:
        self._policies = policies
        self.store = store
        self.index = index
        self._embedder = embedder
        self.explorer = Explorer(index, embedder) if index is not None else None
        # By (tenant, route): this process's share of each error and exploration budget.
        self._budgets: dict[tuple[str, str], RouteBudget] = {}
        # Entries being written after their answer went out, and the writes themselves.
        self._pending: dict[tuple[str, str], Entry] = {}
        self._writes: set[asyncio.Task[None]] = set()

    @property
    def embedder(self) -> Embedder | None:
        """The semantic cache's embedding model (a reload keeps it loaded)."""
        return self._embedder

    async def on_request(self, ctx: RequestContext) -> Reply | None:
        """Set `ctx.cache_hit` (the processor replays it) or `ctx.cache_key` (to store the answer)."""
        await self._look_up(ctx)
        entry = ctx.cache_hit
        if entry is not None:  # answered for free; what the answer cost first is what the hit saved
            ctx.status, ctx.usage, ctx.cost_usd, ctx.cache_saved_usd = 200, usage_from_openai(entry.payload), 0.0, entry.cost_usd
            ctx.client_headers.update({AGE_HEADER: str(entry.age_seconds()), SERVED_MODEL_HEADER: entry.served_model,
                                       PROVIDER_HEADER: entry.provider, COST_HEADER: "0"})  # fmt: skip
        elif ctx.cache_key is not None and ctx.stream:
            ctx.cache_assembler = StreamAssembler()
            ctx.stream_inspected = True
        return None

    def replayed(self, ctx: RequestContext) -> dict[str, Any]:
        """A copy of the answer a hit replays (the stages on the way back may change it)."""
        assert ctx.cache_hit is not None
        return copy.deepcopy(ctx.cache_hit.payload)

    def on_answer(self, ctx: RequestContext, answer: dict[str, Any]) -> bool:
        """A miss's buffered answer, as the model wrote it (before the output policy)."""
        if ctx.cache_key is not None and ctx.cache_hit is None:
            ctx.cache_answer = copy.deepcopy(answer)
        return False

    def on_chunk(self, ctx: RequestContext, chunk: dict[str, Any]) -> None:
        """A miss's streamed answer, chunk by chunk, as the model wrote it."""
        if ctx.cache_assembler is not None:
            ctx.cache_assembler.feed(chunk)

    async def _look_up(self, ctx: RequestContext) -> None:
        """Hit, miss or bypass."""
        if ctx.route is None or ctx.kind != "chat" or ctx.dry_run or ctx.body is None:
            return
        policy = self._policies.for_model(ctx.route.name)
        if policy.mode == "off":
            return
        directives = {d.strip().lower() for d in ctx.headers.get("cache-control", "").split(",")}
        temperature = ctx.body.get("temperature")
        temperature = DEFAULT_TEMPERATURE if not isinstance(temperature, (int, float)) else temperature
        if "no-store" in directives:
            self._outcome(ctx, "bypass", "no-store")
            return
        if ctx.routing is not None and ctx.routing.fallback_list:
            # Any model of the client's list may answer: its answer is not the first model's to keep.
            self._outcome(ctx, "bypass", "fallback_list")
            return
        if temperature > policy.max_temperature:
            self._outcome(ctx, "bypass", "temperature")
            return
        key = exact_key(ctx.tenant, ctx.route.name, ctx.body)
        semantic = policy.mode == "semantic" and self.index is not None and self._embedder is not None
        if semantic and policy.learned:
            self._budget(ctx.tenant, ctx.route.name, policy).looked_up()
        if "no-cache" not in directives:
            entry = self._pending.get((ctx.tenant, key)) or await self.store.get(ctx.tenant, key)
            if entry is not None:
                ctx.cache_hit = entry
                ctx.client_headers[MATCH_HEADER] = "exact"
                self._outcome(ctx, "hit", "exact")
                return
        if semantic:
            await self._semantic_lookup(ctx, policy, search="no-cache" not in directives)
            if ctx.cache_hit is not None:
                return
        ctx.cache_key, ctx.cache_ttl = key, policy.ttl_seconds
        why = "no-cache" if "no-cache" in directives else "explore" if ctx.cache_explored is not None else "exact"
        self._outcome(ctx, "miss", why)
        return

    async def purge(self, tenant: str) -> int:
        """Forget every exact and semantic entry of `tenant`; how many there were."""
        await self.written()  # an entry still being written must not outlive the purge
        count = await self.store.purge(tenant)
        if self.index is not None:
            count += await self.index.purge(tenant)
        return count

    async def _semantic_lookup(self, ctx: RequestContext, policy: CachePolicy, search: bool) -> None:
        """Embed the last user message; decide on the nearest entry that passes the guards (with a
        fixed threshold: the nearest above it). The embedding is kept on the context, to index the
        answer of a miss."""
        assert ctx.route is not None and ctx.body is not None and self.index is not None and self._embedder is not None
        text = last_user_text(ctx.body)
        if text is None:
            return
        scope = scope_key(ctx.tenant, ctx.route.name, ctx.body)
        # ONNX Runtime releases the GIL: the event loop keeps serving while the model runs.
        vector = await asyncio.to_thread(self._embedder.embed_one, text)
        ctx.cache_semantic = (scope, vector, text)
        if not search:
            return
        calibration = None
        if policy.learned:
            candidates, calibration = await asyncio.gather(
                self.index.search(ctx.tenant, scope, vector), self.index.calibration(ctx.tenant, ctx.route.name)
            )
        else:
            candidates = await self.index.search(ctx.tenant, scope, vector)
        for candidate in candidates:
            if policy.threshold is not None and candidate.similarity < policy.threshold:
                break
            refused = refusals(candidate.prompt, text, policy.guards)
            if refused:
                ctx.decisions.append(f"cache:guarded:{'+'.join(refused)}")
                continue
            if calibration is None:
                self._semantic_hit(ctx, candidate)
            else:
                self._learned_decision(ctx, policy, candidate, calibration)
            return

    def _learned_decision(self, ctx: RequestContext, policy: CachePolicy, candidate: Candidate, calibration: Calibration) -> None:
        """Hit, explore or miss on the nearest unguarded entry, as the learned model says."""
        assert ctx.route is not None
        budget = self._budget(ctx.tenant, ctx.route.name, policy)
        verdict = decide(
            calibration, candidate.labels, candidate.similarity, affordable=budget.errors, may_explore=budget.may_explore
        )
        ctx.decisions.append(f"cache:{verdict.action}:risk={verdict.risk:.3f}")
        if verdict.action == "hit":
            budget.spend_risk(verdict.risk)
            metrics.record_cache_risk(route=ctx.route.name, tenant=ctx.tenant, risk=verdict.risk)
            self._semantic_hit(ctx, candidate)
        elif verdict.action == "explore":
            budget.spend_exploration()
            ctx.cache_explored = Exploration(candidate.key, candidate.similarity, candidate.entry)
            ctx.client_headers[EXPLORE_HEADER] = f"{candidate.similarity:.3f}"

    def _semantic_hit(self, ctx: RequestContext, candidate: Candidate) -> None:
        ctx.cache_hit = candidate.entry
        ctx.client_headers[MATCH_HEADER] = "semantic"
        ctx.client_headers[SIMILARITY_HEADER] = f"{candidate.similarity:.3f}"
        self._outcome(ctx, "hit", "semantic")

    def _budget(self, tenant: str, route: str, policy: CachePolicy) -> RouteBudget:
        budget = self._budgets.get((tenant, route))
        if budget is None:
            budget = self._budgets[(tenant, route)] = RouteBudget(policy.max_error_rate, policy.max_exploration_rate)
        return budget

    async def on_response(self, ctx: RequestContext) -> None:
        """Store a miss's complete, successful answer; hand an exploration's to the explorer."""
        if ctx.cache_hit is not None:
            usage = ctx.usage
            metrics.record_cache_hit(
                route=ctx.route.name if ctx.route else None,
                tenant=ctx.tenant,
                tokens=(usage.prompt_tokens + usage.completion_tokens) if usage else 0,
                usd=ctx.cache_hit.cost_usd or 0.0,
            )
            return
        answer = ctx.cache_answer
        if answer is None and ctx.cache_assembler is not None and ctx.error is None:
            answer = ctx.cache_assembler.completion()
        if ctx.cache_key is None or answer is None or ctx.status != 200 or ctx.error is not None:
            if ctx.cache_explored is not None and self.explorer is not None:
                self.explorer.settle(ctx, self._policies.for_model(ctx.route.name if ctx.route else None), None)
            return
        endpoint = ctx.endpoint
        entry = Entry(
            payload=answer,
            created=time.time(),
            served_model=endpoint.upstream_model if endpoint else "",
            provider=endpoint.provider if endpoint else "",
            cost_usd=ctx.cost_usd,
        )
        self._store_later(ctx.tenant, ctx.cache_key, entry, ctx.cache_ttl)
        if ctx.cache_explored is not None and self.explorer is not None:
            # The label decides whether this prompt gets an entry of its own (exploration.py).
            self.explorer.settle(ctx, self._policies.for_model(ctx.route.name if ctx.route else None), entry)
        elif ctx.cache_semantic is not None and self.index is not None:
            scope, vector, text = ctx.cache_semantic
            await self.index.add(ctx.tenant, scope, vector, text, entry, ctx.cache_ttl)

    def _store_later(self, tenant: str, key: str, entry: Entry, ttl_seconds: int) -> None:
        """Write the entry once the answer has gone: the client does not wait for the store's round trip.

        The write starts on the event loop's next turn, before this process reads another message;
        the stores log and swallow their own failures (the cache is optional)."""
        self._pending[(tenant, key)] = entry  # this process's look-ups see it at once

        async def write() -> None:
            try:
                await self.store.put(tenant, key, entry, ttl_seconds)
            finally:
                if self._pending.get((tenant, key)) is entry:
                    del self._pending[(tenant, key)]

        task = asyncio.get_running_loop().create_task(write())
        self._writes.add(task)  # a reference until it is done: the loop keeps only weak ones
        task.add_done_callback(self._writes.discard)

    async def written(self) -> None:
        """Wait for the entries still being written (tests, and a clean stop)."""
        while self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    @staticmethod
    def _outcome(ctx: RequestContext, outcome: str, why: str) -> None:
        ctx.cache_outcome = outcome
        ctx.client_headers[CACHE_HEADER] = outcome
        ctx.decisions.append(f"cache:{outcome}:{why}")
        metrics.record_cache(route=ctx.route.name if ctx.route else None, tenant=ctx.tenant, outcome=outcome)
