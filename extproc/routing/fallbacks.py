"""A client's own fallback list, `"models": [...]` in the body: checked, and turned into the route Envoy walks.

The list is `model` followed by the other entries of `models`, in order, each named once. Every
entry must be a chat model of the catalog (a name or an alias, not a virtual model), and the
list at most `routing.max_fallback_models` long. The request is prepared once, so every model of
the list must share the first one's privacy policy; it is served under the first model's route
policies (limits, cost cap), and its answers are not cached (which model answers varies).

Envoy walks it: the request goes to the fallback-list route (`config/fallback_list.py`), whose
aggregate cluster has one priority level per position; the `envoy.lb` positions name the
models, and `x-envoy-max-retries` stops Envoy at the list's end. Each retry moves one position
(a model's own chain is not followed inside a list: the list is the chain).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from extproc.config.catalog import Catalog, ModelRoute
from extproc.config.fallback_list import FallbackList
from extproc.errors import GatewayError, shown

PARAM = "models"


def fallback_chain(requested: str, models: object, catalog: Catalog, max_models: int) -> list[ModelRoute]:
    """The routes of the list `model` + `models` names, in order, each once; GatewayError (400) naming what is wrong."""
    if not isinstance(models, list) or not all(isinstance(m, str) and m for m in models):
        raise _bad("`models` must be a list of model names, tried in order when the one before fails.", "invalid_request")
    if catalog.resolve_virtual(requested) is not None:
        raise _bad(
            f"`models` lists concrete models to try in order; `model` must be one of them, not the routing policy "
            f"{shown(requested)} (send `model` as the first model of the list).",
            "invalid_request",
        )
    if len(dict.fromkeys([requested, *models])) > max_models:
        raise _bad(
            f"`models` names {len(dict.fromkeys([requested, *models]))} models; a fallback list may have at most "
            f"{max_models} (with `model`).",
            "too_many_models",
        )
    chain: list[ModelRoute] = []
    for name in [requested, *models]:
        route = catalog.resolve(name)
        if route is None:
            detail = "a routing policy cannot be part of a list" if catalog.resolve_virtual(name) else "it does not exist"
            raise _bad(f"The model {shown(name)} in `models` cannot be tried: {detail}.", "model_not_found")
        if route.kind != "chat":
            raise _bad(f"The model {shown(name)} in `models` serves {route.kind}, not chat.", "wrong_model_kind")
        if route not in chain:
            chain.append(route)
    if len(chain) > max_models:
        raise _bad(
            f"`models` names {len(chain)} models; a fallback list may have at most {max_models} (with `model`).",
            "too_many_models",
        )
    return chain


def check_same_policy(chain: list[ModelRoute], policy_of: Callable[[str], object], what: str) -> None:
    """GatewayError (400) unless every model of `chain` has the first one's `what` policy."""
    first = policy_of(chain[0].name)
    differing = [r.name for r in chain[1:] if policy_of(r.name) != first]
    if differing:
        raise _bad(
            f"The models of a fallback list must share one {what} policy (the request is prepared once): "
            f"{', '.join(differing)} differ from {chain[0].name}. List models with the same policy.",
            "fallback_policies_differ",
        )


def chain_route(chain: list[ModelRoute], fallback: FallbackList) -> ModelRoute:
    """The route of a list: the first model's name and policies, the fallback-list cluster, and the
    first level of each model in the list's order. The endpoints are the catalog's own copies (their
    translators are keyed by them), so the list is one level to cost control: a cost cap applies to
    every model of the list at once, and the limits hold the dearest."""
    endpoints = tuple(e for route in chain for e in fallback.endpoints[route.name])
    return replace(chain[0], cluster=fallback.cluster, aliases=(), endpoints=endpoints, per_attempt=True)


def _bad(message: str, code: str) -> GatewayError:
    return GatewayError(400, message, code=code, param=PARAM)
