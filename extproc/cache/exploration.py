"""Explorations of the learned semantic cache, settled once the provider has answered.

A would-be hit the model is not sure of goes to the provider, and the client gets the fresh
answer. Then, in the background (the client never waits for a comparison), the fresh answer is
compared with the cached one (`labels.py`): the label, this similarity was right or wrong for this
entry, goes to the entry and to its route's calibration. A wrong label also indexes the new prompt
with its own answer, so that what was just learned is served next time.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from extproc.cache.labels import answer_text, same_answer
from extproc.cache.learned import Label
from extproc.cache.semantic import SemanticIndex
from extproc.cache.store import Entry
from extproc.telemetry import metrics

if TYPE_CHECKING:
    from extproc.cache.embeddings import Embedder
    from extproc.cache.policy import CachePolicy
    from extproc.context import RequestContext

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Exploration:
    """The candidate a request explores: its key in the index, its similarity and its entry."""

    key: str
    similarity: float
    cached: Entry


class Explorer:
    """Settles explorations on tasks of their own, and keeps them until they are done."""

    def __init__(self, index: SemanticIndex, embedder: Embedder | None) -> None:
        self._index = index
        self._embedder = embedder
        self._pending: set[asyncio.Task[None]] = set()

    def settle(self, ctx: RequestContext, policy: CachePolicy, fresh: Entry | None) -> None:
        """Label the request's exploration against `fresh` (None: the answer cannot be cached)."""
        task = asyncio.get_running_loop().create_task(self._settle(ctx, policy, fresh))
        self._pending.add(task)  # a reference until it is done: the loop keeps only weak ones
        task.add_done_callback(self._pending.discard)

    async def drain(self) -> None:
        """Wait for every pending exploration (tests, shutdown)."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def _settle(self, ctx: RequestContext, policy: CachePolicy, fresh: Entry | None) -> None:
        exploration: Exploration = ctx.cache_explored
        route, tenant = ctx.route.name if ctx.route else "", ctx.tenant
        outcome = "unlabelled"
        try:
            label = await self._label(exploration, policy, fresh)
            if label is not None:
                outcome = "right" if label.right else "wrong"
                await self._index.label(tenant, exploration.key, label)
                await self._index.calibrate(tenant, route, label)
            if fresh is not None and ctx.cache_semantic is not None and (label is None or not label.right):
                # Wrong either way: the new entry starts with the label it was found by.
                scope, vector, text = ctx.cache_semantic
                await self._index.add(tenant, scope, vector, text, fresh, ctx.cache_ttl, [label] if label else [])
        except Exception:  # an index or a model failure loses one label, never more
            log.exception("request %s: the exploration could not be settled", ctx.request_id)
        # Read last: the accounting stage prices the answer after this stage's response side.
        metrics.record_cache_exploration(route=route, tenant=tenant, outcome=outcome, usd=ctx.cost_usd)

    async def _label(self, exploration: Exploration, policy: CachePolicy, fresh: Entry | None) -> Label | None:
        cached_text = answer_text(exploration.cached.payload)
        fresh_text = answer_text(fresh.payload) if fresh is not None else None
        if cached_text is None or fresh_text is None:
            return None
        embed: Any = self._embedder.embed if self._embedder is not None else None
        # The embedding model releases the GIL: the comparison runs off the event loop.
        right = await asyncio.to_thread(same_answer, cached_text, fresh_text, policy.compare, embed, policy.answer_similarity)
        return Label(exploration.similarity, right)
