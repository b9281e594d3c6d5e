"""Routing: the model a client asked for (a name, an alias, a virtual model's policy, or a fallback
list), to the route that serves it, with the reason said in headers.

- A concrete model or alias goes to its route: explicit beats inferred.
- A virtual model (`auto`) applies its routing policy (`routing/policy.py`, `routing/decide.py`):
  rules, sticky splits, the classifier's table; conversations keep the highest complexity they
  reached (`routing/conversations.py`). `x-gateway-route-reason` says why; `x-gateway-task`
  and `x-gateway-complexity` what the classifier table used, when it ran.
- `models: [...]` in the body is the client's own fallback list (`routing/fallbacks.py`).

Every name the client gives must be one its tenant may use (`tenants.<name>.models`).
"""

from __future__ import annotations

import logging

from extproc.config.catalog import MODEL_HEADER, Catalog, ModelRoute
from extproc.config.fallback_list import FALLBACK_MODEL, lb_criteria
from extproc.context import RequestContext
from extproc.decisions import Reply
from extproc.errors import GatewayError, StoreUnavailable, shown
from extproc.redaction.policy import PrivacyPolicies
from extproc.routing.classifier import TASKS
from extproc.routing.conversations import ConversationStore, conversation_key
from extproc.routing.decide import FROM_CLASSIFIER, Classifies, Decision, decide
from extproc.routing.facts import read_facts
from extproc.routing.fallbacks import chain_route, check_same_policy, fallback_chain
from extproc.routing.policy import RoutingPolicies, RoutingPolicy
from extproc.stages.base import Stage
from extproc.tenancy.settings import Settings

log = logging.getLogger(__name__)

ROUTE_REASON_HEADER = "x-gateway-route-reason"
# A client's `models` list: its decision's policy and reason (in metrics and the log line).
FALLBACK_POLICY, FALLBACK_REASON = "models", "fallback_list"
# Envoy's router takes the number of retries from this request header.
MAX_RETRIES_HEADER = "x-envoy-max-retries"
TASK_HEADER = "x-gateway-task"
COMPLEXITY_HEADER = "x-gateway-complexity"
# Listing hundreds of names in an error helps nobody.
_MAX_NAMES_IN_ERROR = 20


class RoutingStage(Stage):
    """Resolve the requested model (or apply a virtual model's policy) and tell Envoy's route table which route to take."""

    name = "routing"

    def __init__(
        self,
        catalog: Catalog,
        policies: RoutingPolicies | None = None,
        settings: Settings | None = None,
        classifier: Classifies | None = None,
        conversations: ConversationStore | None = None,
        privacy: PrivacyPolicies | None = None,
    ) -> None:
        self._catalog = catalog
        self._policies = policies or RoutingPolicies()
        self._settings = settings or Settings()
        self._classifier = classifier
        self._conversations = conversations
        self._privacy = privacy or PrivacyPolicies()
        # Per tenant, the canonical names its `models` allow-list stands for (names and aliases alike).
        self._allowed: dict[str, frozenset[str]] = {}

    async def on_request(self, ctx: RequestContext) -> Reply | None:
        """Set `x-gateway-model` to the canonical model name; 404 for an unknown model, 400 for bad routing fields."""
        requested = ctx.requested_model or ""
        task = _task_type(ctx.task_type)
        self._check_allowed(ctx, requested, "model", 403)
        if ctx.fallback_models is not None:
            self._fallback_list(ctx, requested)
            return None
        virtual = self._catalog.resolve_virtual(requested)
        if virtual is not None:
            decision = await self._apply(ctx, self._policies.by_model[virtual.name], task)
            route = self._catalog.resolve(decision.model)
            assert route is not None, "policies name catalog models (checked at start)"
            ctx.decisions.append(f"policy:{virtual.name}->{route.name}({decision.reason})")
        else:
            found = self._catalog.resolve(requested)
            if found is None:
                raise _unknown_model(requested, self._catalog.names())
            route = found
            ctx.decisions.append(f"route:{route.name}" if route.name == requested else f"alias:{requested}->{route.name}")
        self._check_route(ctx, requested, route)
        ctx.route = route
        ctx.upstream_headers[MODEL_HEADER] = route.name
        return None

    def _fallback_list(self, ctx: RequestContext, requested: str) -> None:
        """Route a client's `models` list to the fallback-list route, its positions filled in for Envoy."""
        chain = fallback_chain(requested, ctx.fallback_models, self._catalog, self._policies.max_fallback_models)
        for name in ctx.fallback_models:
            self._check_allowed(ctx, name, "models", 400)
        if len(chain) == 1:  # nothing to fall back to: an ordinary request
            ctx.fallback_models = None
            self._check_route(ctx, requested, chain[0])
            ctx.route = chain[0]
            ctx.upstream_headers[MODEL_HEADER] = chain[0].name
            ctx.decisions.append(f"route:{chain[0].name}")
            return
        fallback = self._catalog.fallback_list
        if fallback is None or len(chain) > fallback.slots:
            raise GatewayError(
                400,
                f"This gateway's Envoy configuration has no route for a fallback list of {len(chain)} models "
                "(`llm-gateway up` and `render` add it); send one model, or use a model whose route falls back.",
                code="fallback_lists_unavailable",
                param="models",
            )
        if ctx.lane is not None:
            raise GatewayError(400, "A fail-open lane serves one model: `models` is not allowed there.", code="invalid_request", param="models")
        check_same_policy(chain, self._privacy.for_model, "privacy")
        names = [route.name for route in chain]
        ctx.route = chain_route(chain, fallback)
        ctx.upstream_headers[MODEL_HEADER] = FALLBACK_MODEL
        ctx.upstream_headers[MAX_RETRIES_HEADER] = str(len(chain) - 1)
        ctx.lb_metadata = lb_criteria(names, fallback.slots)
        ctx.routing = Decision(names[0], FALLBACK_REASON, FALLBACK_POLICY, fallback_list=tuple(names))
        ctx.client_headers[ROUTE_REASON_HEADER] = FALLBACK_REASON
        ctx.decisions.append(f"fallback_list:{'>'.join(names)}")

    async def _apply(self, ctx: RequestContext, policy: RoutingPolicy, task: str | None) -> Decision:
        """The policy's decision for this request, in the request's headers and on its context."""
        assert ctx.body is not None
        messages = ctx.body.get("messages")
        messages = messages if isinstance(messages, list) else []
        facts = read_facts(ctx.body, task, ctx.tenant, ctx.headers, ctx.key_id)
        key = None
        kept_complex = False
        conversation = policy.conversation
        if conversation is not None and policy.classifies and self._conversations is not None:
            key = conversation_key(ctx.tenant, policy.name, conversation.header, ctx.headers, facts.user, messages)
            kept_complex = await self._recall(key, conversation.ttl_seconds)
        decision = decide(policy, facts, messages, self._classifier, kept_complex)
        if key is not None and conversation is not None and decision.reached_complex and not kept_complex:
            await self._remember(key, conversation.ttl_seconds)
        ctx.routing = decision
        ctx.client_headers[ROUTE_REASON_HEADER] = decision.reason
        if decision.classified:
            ctx.client_headers[TASK_HEADER] = decision.task or ""
            ctx.client_headers[COMPLEXITY_HEADER] = decision.complexity or ""
            if task is None and decision.reason == FROM_CLASSIFIER:
                ctx.decisions.append(f"classified:{decision.task}/{decision.complexity}")
        return decision

    async def _recall(self, key: str, ttl_seconds: int) -> bool:
        assert self._conversations is not None
        try:
            return await self._conversations.recall(key, ttl_seconds)
        except StoreUnavailable as exc:
            log.warning("routing: conversation store unavailable (%s); routing on this request alone", exc)
            return False

    async def _remember(self, key: str, ttl_seconds: int) -> None:
        assert self._conversations is not None
        try:
            await self._conversations.remember(key, ttl_seconds)
        except StoreUnavailable as exc:
            log.warning("routing: conversation store unavailable (%s); its tier is not kept", exc)

    def _check_allowed(self, ctx: RequestContext, name: str, param: str, status: int) -> None:
        """GatewayError unless the tenant may ask for `name`: its allow-list names it, or another name of its model."""
        allowed = self._settings.policy_for(ctx.tenant).models
        if allowed is None:
            return
        canonical = self._allowed.get(ctx.tenant)
        if canonical is None:
            canonical = self._allowed[ctx.tenant] = frozenset(self._canonical(n) for n in allowed)
        if self._canonical(name) in canonical:
            return
        raise GatewayError(
            status,
            f"Tenant {ctx.tenant!r} may not use the model {shown(name)}; it may use: {', '.join(sorted(allowed))}.",
            code="model_not_allowed",
            param=param,
        )

    def _canonical(self, name: str) -> str:
        found = self._catalog.resolve(name) or self._catalog.resolve_virtual(name)
        return found.name if found is not None else name

    def _check_route(self, ctx: RequestContext, requested: str, route: ModelRoute) -> None:
        if route.kind != ctx.kind:
            raise GatewayError(
                400,
                f"The model {shown(requested)} serves {route.kind}, not {ctx.kind}; use a {ctx.kind} model.",
                code="wrong_model_kind",
                param="model",
            )
        if ctx.lane is not None and route.cluster != ctx.lane.cluster:
            served = ", ".join(self._catalog.lane_models(ctx.lane))
            raise GatewayError(
                400,
                f"The {ctx.lane.prefix}/v1 lane serves only {served}, not {shown(requested)}; use /v1 for other models.",
                code="model_not_in_lane",
                param="model",
            )


def _task_type(value: object) -> str | None:
    """The body's `task_type`, checked: one of the classifier's tasks, or absent."""
    if value is None:
        return None
    if not isinstance(value, str) or value not in TASKS:
        raise GatewayError(
            400,
            f"Unknown `task_type` {shown(value)}; use one of: {', '.join(TASKS)}.",
            code="unknown_task_type",
            param="task_type",
        )
    return value


def _unknown_model(requested: str, names: list[str]) -> GatewayError:
    listed = names[:_MAX_NAMES_IN_ERROR]
    more = f" and {len(names) - len(listed)} more" if len(names) > len(listed) else ""
    return GatewayError(
        404,
        f"The model {shown(requested)} does not exist on this gateway. Available models: {', '.join(listed)}{more}.",
        code="model_not_found",
        param="model",
    )
