"""The pipeline: every stage, declared once, in the order a request meets them.

The answer meets the stages that saw the request in reverse order
(`stages/base.py`), so the order below also reads bottom-up as the way back.
"""

from __future__ import annotations

from dataclasses import dataclass

from extproc.cost.estimate import Estimator
from extproc.cost.pricing import Pricing
from extproc.redaction.policy import PrivacyPolicies
from extproc.redaction.pool import ScanPool
from extproc.stages.accounting import AccountingStage
from extproc.stages.answer_size import AnswerSizeStage
from extproc.stages.auth import AuthStage
from extproc.stages.base import Stage
from extproc.stages.cache import CacheStage
from extproc.stages.cost_control import CostControlStage
from extproc.stages.limits import LimitsStage
from extproc.stages.prompt import PromptStage
from extproc.stages.recent import RecentRequestsStage
from extproc.stages.redaction import RedactionStage
from extproc.stages.routing import RoutingStage
from extproc.stages.seed_api import SeedApiStage
from extproc.tenancy.auth import Authenticator
from extproc.tenancy.limits import Limits
from extproc.tenancy.settings import Settings


@dataclass(frozen=True, slots=True)
class Pipeline:
    """The stages a request meets at its headers (before the body is read), then at its body: first
    those that rewrite the body into the request to validate, then those that see it validated."""

    at_headers: tuple[Stage, ...]
    at_body: tuple[Stage, ...]
    # Before the body is validated: what a request names may complete it (a prompt's messages and model).
    before_validation: tuple[Stage, ...] = ()

    @property
    def stages(self) -> tuple[Stage, ...]:
        """Every stage, in request order."""
        return self.at_headers + self.before_validation + self.at_body


def build_pipeline(
    routing: RoutingStage,
    authenticator: Authenticator,
    settings: Settings,
    limits: Limits,
    privacy: PrivacyPolicies,
    cache: CacheStage | None,
    pricing: Pricing,
    estimator: Estimator,
    prompt: PromptStage | None = None,
    scan_pool: ScanPool | None = None,
    recent: RecentRequestsStage | None = None,
    seed_api: SeedApiStage | None = None,
) -> Pipeline:
    """The stages that envoy.yaml's policies switch on, in the request's order.

    - auth first, at the headers: nothing else runs for a caller the gateway does not know;
    - the prompt's expansion first at the body, before it is validated: everything after sees
      the request as the provider will (routing its model, redaction its messages, the cache
      its key, accounting its size);
    - routing (every policy is per route), then the answer size (a refusal before anything
      scans, reserves or prices), then redaction, before anything counts, prices or caches
      the prompt;
    - cost control before limits: limits holds the worst case on the endpoints cost control
      lets the chain reach; no stage after limits may refuse a request except by raising
      (its reservation then comes back at once, like every stage's that ran);
    - the cache after limits, so a hit takes a request from the request buckets (its tokens
      and hold come back whole when it settles); a hit ends the pipeline;
    - accounting last, so on the way back it is first: the answer is priced before the cache
      stores it and before limits settle on its cost.

    `scan_pool` is the redaction workers to use (a reload keeps the running ones). `recent`, right
    after auth, records each request's outcome for its tenant's recent-requests list (on the way
    back it is among the last, so it sees the request priced and settled). `seed_api`, first at the
    body, applies the seed API's options before routing and, last on the way back, writes its
    answer in the seed's shape after every other stage saw it canonical.
    """
    body: list[Stage] = [seed_api] if seed_api is not None else []
    body += [routing, AnswerSizeStage()]
    if privacy.any_active:
        body.append(RedactionStage(privacy, scan_pool))
    body.append(CostControlStage(estimator))
    if settings.limits_anything:
        body.append(LimitsStage(settings, limits, estimator))
    if cache is not None:
        body.append(cache)
    body.append(AccountingStage(pricing, estimator))
    at_headers: tuple[Stage, ...] = (AuthStage(authenticator), recent) if recent else (AuthStage(authenticator),)
    return Pipeline(at_headers=at_headers, at_body=tuple(body), before_validation=(prompt,) if prompt else ())
