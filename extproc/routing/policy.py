"""Routing policies from envoy.yaml: on a virtual model's route, the entries that pick a model per request.

A virtual model (`auto` in the shipped file) is a route whose `llm_gateway` metadata has a
`routing` policy instead of a cluster. Its entries are tried in order and the first whose
`when` holds decides; with none, `default` serves:

    routing:
      default: gpt-4o                     # nothing matched, or the classifier was unsure
      rules:
      - name: tools                       # named in x-gateway-route-reason, the log line, metrics
        when: { tools: true }             # every condition given must hold
        model: gpt-4o
      - name: haiku-canary                # a weighted split, sticky per caller
        when: { tenant: [acme] }
        split:
          sticky_header: x-user-id        # else the body's `user`, else the API key
          arms:
          - { name: control, model: gpt-4o-mini, weight: 90 }
          - { name: canary, model: claude-haiku-4-5, weight: 10 }
      - name: classifier                  # task and complexity, first row that fits
        classify:
          min_confidence: 0.8             # below it (for what a row asks): the default
          table:
          - { task: code, model: qwen2.5-coder }
          - { complexity: simple, model: gpt-4o-mini }
          - { complexity: complex, model: gpt-4o }
      conversation:                       # a conversation keeps the highest complexity it reached
        ttl_seconds: 1800
        header: x-conversation-id         # else the body's `user`, else its first turns

Conditions (`when`): `prompt_tokens: {min, max}` (estimated), `tools`, `images`, `json`
(response_format json_object or json_schema) as true or false, `task` (the body's `task_type`),
`tenant`, `header: {name, values}` (values left out: the header is present), `metadata: {key,
values}` (the body's `metadata` object). Model names may be aliases; each must be a chat model
of the catalog, or the gateway refuses to start.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from extproc.config.catalog import Catalog
from extproc.config.validation import gateway_settings
from extproc.routing.classifier import COMPLEXITIES, TASKS
from extproc.tenancy.settings import SettingsError, mapping_of

# The client's `models` fallback list: at most this many models unless the gateway says otherwise.
DEFAULT_MAX_FALLBACK_MODELS = 5
# Split weights are percentages: they must add up to this.
SPLIT_TOTAL = 100
DEFAULT_CONVERSATION_TTL_S = 1800
DEFAULT_MIN_CONFIDENCE = 0.8
RULE_KEYS = ("name", "when", "model", "split", "classify")
WHEN_KEYS = ("prompt_tokens", "tools", "images", "json", "task", "tenant", "header", "metadata")


@dataclass(frozen=True, slots=True)
class When:
    """Conditions on the request; every one that is set must hold (None: not a condition)."""

    min_prompt_tokens: int | None = None
    max_prompt_tokens: int | None = None
    tools: bool | None = None
    images: bool | None = None
    json: bool | None = None
    tasks: frozenset[str] | None = None
    tenants: frozenset[str] | None = None
    # (header name in lower case, accepted values; None: present with any value)
    header: tuple[str, frozenset[str] | None] | None = None
    # (key of the body's `metadata`, accepted values; None: present with any value)
    metadata: tuple[str, frozenset[str] | None] | None = None

    @property
    def always(self) -> bool:
        """True when no condition is set: the entry matches every request."""
        return self == When()


@dataclass(frozen=True, slots=True)
class Arm:
    """One arm of a split: its name (in headers, logs and metrics), its model and its share."""

    name: str
    model: str
    weight: float


@dataclass(frozen=True, slots=True)
class Split:
    """Weighted arms (summing to 100), one per caller: the caller's key picks the arm."""

    arms: tuple[Arm, ...]
    sticky_header: str | None = None


@dataclass(frozen=True, slots=True)
class TableRow:
    """A classifier table row: the model for a task and/or a complexity (None: any)."""

    model: str
    task: str | None = None
    complexity: str | None = None


@dataclass(frozen=True, slots=True)
class Classify:
    """The classifier's table: the first row whose task and complexity were predicted with enough
    confidence picks the model; when none does, the policy's default serves."""

    table: tuple[TableRow, ...]
    min_confidence: float = DEFAULT_MIN_CONFIDENCE


@dataclass(frozen=True, slots=True)
class Rule:
    """One entry of a policy: when it applies, and the model, split or classifier table that decides."""

    name: str
    when: When = When()
    model: str | None = None
    split: Split | None = None
    classify: Classify | None = None


@dataclass(frozen=True, slots=True)
class Conversation:
    """Conversations keep the highest complexity they reached, for `ttl_seconds` after their last request."""

    ttl_seconds: int = DEFAULT_CONVERSATION_TTL_S
    header: str | None = None


@dataclass(frozen=True, slots=True)
class RoutingPolicy:
    """A virtual model's policy: its entries in order, its default, and how conversations keep their tier."""

    name: str
    default: str
    rules: tuple[Rule, ...] = ()
    conversation: Conversation | None = None

    @property
    def classifies(self) -> bool:
        """True when some entry asks the classifier."""
        return any(rule.classify is not None for rule in self.rules)

    def models(self) -> set[str]:
        """Every model the policy may pick."""
        names = {self.default}
        for rule in self.rules:
            names.update(m for m in (rule.model,) if m)
            names.update(arm.model for arm in (rule.split.arms if rule.split else ()))
            names.update(row.model for row in (rule.classify.table if rule.classify else ()))
        return names


@dataclass(frozen=True, slots=True)
class RoutingPolicies:
    """Every virtual model's policy, and the bound on a client's fallback list."""

    by_model: dict[str, RoutingPolicy] = field(default_factory=dict)
    max_fallback_models: int = DEFAULT_MAX_FALLBACK_MODELS

    @property
    def classifies(self) -> bool:
        """True when some policy asks the classifier (it is loaded at start only then)."""
        return any(policy.classifies for policy in self.by_model.values())


def load_routing(config: dict[str, Any], catalog: Catalog) -> RoutingPolicies:
    """Read every routing policy of a parsed envoy.yaml against its catalog; ConfigError (or SettingsError)
    says what is wrong."""
    settings = gateway_settings(config)
    policies = {
        name: _policy(name, route.routing, catalog)
        for name, route in settings.routes.items()
        if route.routing is not None
    }
    return RoutingPolicies(policies, settings.virtual_host.routing.max_fallback_models)


def only_keys(section: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    """SettingsError naming any key of `section` not in `allowed` (a typo would otherwise be ignored)."""
    unknown = sorted(set(section) - set(allowed))
    if unknown:
        close = [difflib.get_close_matches(key, allowed, n=1, cutoff=0.6) for key in unknown]
        hints = [f"{key} (did you mean {match[0]}?)" if match else key for key, match in zip(unknown, close, strict=True)]
        raise SettingsError(f"{where} does not know {', '.join(hints)}; it takes {', '.join(allowed)}")


def _policy(name: str, section: dict[str, Any], catalog: Catalog) -> RoutingPolicy:
    where = f"model {name!r} routing"
    only_keys(section, ("default", "rules", "conversation"), where)
    if "default" not in section:
        raise SettingsError(f"{where} needs a `default` model: the one that serves when no rule matches")
    default = _model(section["default"], f"{where}.default", catalog)
    raw_rules = section.get("rules") or []
    if not isinstance(raw_rules, list):
        raise SettingsError(f"{where}.rules must be a list of rules")
    rules: list[Rule] = []
    for index, raw in enumerate(raw_rules):
        rule = _rule(mapping_of(raw, f"{where}.rules[{index}]"), f"{where}.rules[{index}]", catalog)
        if any(r.name == rule.name for r in rules):
            raise SettingsError(f"{where} has two rules named {rule.name!r}: names must be unique (they label metrics)")
        rules.append(rule)
    conversation = None
    if section.get("conversation") is not None:
        conversation = _conversation(mapping_of(section["conversation"], f"{where}.conversation"), f"{where}.conversation")
    return RoutingPolicy(name, default, tuple(rules), conversation)


def _rule(section: dict[str, Any], where: str, catalog: Catalog) -> Rule:
    only_keys(section, RULE_KEYS, where)
    name = section.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 64 or "," in name:
        raise SettingsError(f"{where} needs a `name`: up to 64 characters, no comma (it labels headers, logs and metrics)")
    where = f"{where} ({name})"
    actions = [key for key in ("model", "split", "classify") if key in section]
    if len(actions) != 1:
        raise SettingsError(f"{where} must have exactly one of model, split or classify; it has {', '.join(actions) or 'none'}")
    when = _when(mapping_of(section.get("when"), f"{where}.when"), f"{where}.when")
    if actions[0] == "model":
        return Rule(name, when, model=_model(section["model"], f"{where}.model", catalog))
    if actions[0] == "split":
        return Rule(name, when, split=_split(mapping_of(section["split"], f"{where}.split"), f"{where}.split", catalog))
    return Rule(name, when, classify=_classify(mapping_of(section["classify"], f"{where}.classify"), f"{where}.classify", catalog))


def _when(section: dict[str, Any], where: str) -> When:
    only_keys(section, WHEN_KEYS, where)
    values: dict[str, Any] = {}
    if "prompt_tokens" in section:
        bounds = mapping_of(section["prompt_tokens"], f"{where}.prompt_tokens")
        only_keys(bounds, ("min", "max"), f"{where}.prompt_tokens")
        for key in ("min", "max"):
            if key in bounds:
                value = bounds[key]
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise SettingsError(f"{where}.prompt_tokens.{key} must be a whole number, at least 0; got {value!r}")
                values[f"{key}_prompt_tokens"] = value
        low, high = values.get("min_prompt_tokens"), values.get("max_prompt_tokens")
        if low is not None and high is not None and low > high:
            raise SettingsError(f"{where}.prompt_tokens: min {low} is above max {high}, so the rule can never match")
    for key in ("tools", "images", "json"):
        if key in section:
            if not isinstance(section[key], bool):
                raise SettingsError(f"{where}.{key} must be true or false; got {section[key]!r}")
            values[key] = section[key]
    if "task" in section:
        tasks = _strings(section["task"], f"{where}.task")
        unknown = sorted(tasks - set(TASKS))
        if unknown:
            raise SettingsError(f"{where}.task names unknown tasks {', '.join(unknown)}; tasks are {', '.join(TASKS)}")
        values["tasks"] = tasks
    if "tenant" in section:
        values["tenants"] = _strings(section["tenant"], f"{where}.tenant")
    for key, field_name in (("header", "name"), ("metadata", "key")):
        if key in section:
            spec = mapping_of(section[key], f"{where}.{key}")
            only_keys(spec, (field_name, "values"), f"{where}.{key}")
            named = spec.get(field_name)
            if not isinstance(named, str) or not named:
                raise SettingsError(f"{where}.{key} needs a `{field_name}`")
            accepted = _strings(spec["values"], f"{where}.{key}.values") if "values" in spec else None
            values[key] = (named.lower() if key == "header" else named, accepted)
    return When(**values)


def _split(section: dict[str, Any], where: str, catalog: Catalog) -> Split:
    only_keys(section, ("arms", "sticky_header"), where)
    raw_arms = section.get("arms")
    if not isinstance(raw_arms, list) or len(raw_arms) < 2:
        raise SettingsError(f"{where}.arms must list at least two arms (model and weight each)")
    arms = []
    for index, raw in enumerate(raw_arms):
        arm_where = f"{where}.arms[{index}]"
        arm = mapping_of(raw, arm_where)
        only_keys(arm, ("name", "model", "weight"), arm_where)
        model = _model(arm.get("model"), f"{arm_where}.model", catalog)
        weight = arm.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight <= 0:
            raise SettingsError(f"{arm_where}.weight must be a positive number (a percentage); got {weight!r}")
        name = str(arm.get("name") or model)
        arms.append(Arm(name, model, float(weight)))
    total = sum(arm.weight for arm in arms)
    if abs(total - SPLIT_TOTAL) > 1e-6:
        shares = " + ".join(f"{arm.weight:g}" for arm in arms)
        raise SettingsError(f"{where}: the weights add up to {total:g} ({shares}), not {SPLIT_TOTAL}")
    if len({arm.name for arm in arms}) != len(arms):
        raise SettingsError(f"{where}: two arms have the same name; name them (`name:`) so each can be told apart")
    header = section.get("sticky_header")
    if header is not None and (not isinstance(header, str) or not header):
        raise SettingsError(f"{where}.sticky_header must be a header name")
    return Split(tuple(arms), header.lower() if header else None)


def _classify(section: dict[str, Any], where: str, catalog: Catalog) -> Classify:
    only_keys(section, ("table", "min_confidence"), where)
    floor = section.get("min_confidence", DEFAULT_MIN_CONFIDENCE)
    if isinstance(floor, bool) or not isinstance(floor, (int, float)) or not 0 <= floor <= 1:
        raise SettingsError(f"{where}.min_confidence must be a number from 0 to 1; got {floor!r}")
    raw_rows = section.get("table")
    if not isinstance(raw_rows, list) or not raw_rows:
        raise SettingsError(f"{where}.table must list rows of task and/or complexity, and a model")
    rows = []
    for index, raw in enumerate(raw_rows):
        row_where = f"{where}.table[{index}]"
        row = mapping_of(raw, row_where)
        only_keys(row, ("task", "complexity", "model"), row_where)
        task, complexity = row.get("task"), row.get("complexity")
        if task is not None and task not in TASKS:
            raise SettingsError(f"{row_where}.task must be one of {', '.join(TASKS)}; got {task!r}")
        if complexity is not None and complexity not in COMPLEXITIES:
            raise SettingsError(f"{row_where}.complexity must be one of {', '.join(COMPLEXITIES)}; got {complexity!r}")
        if task is None and complexity is None:
            raise SettingsError(f"{row_where} needs a task, a complexity or both (a row for anything is the policy's default)")
        rows.append(TableRow(_model(row.get("model"), f"{row_where}.model", catalog), task, complexity))
    return Classify(tuple(rows), float(floor))


def _conversation(section: dict[str, Any], where: str) -> Conversation:
    only_keys(section, ("ttl_seconds", "header"), where)
    ttl = section.get("ttl_seconds", DEFAULT_CONVERSATION_TTL_S)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 1:
        raise SettingsError(f"{where}.ttl_seconds must be a positive whole number; got {ttl!r}")
    header = section.get("header")
    if header is not None and (not isinstance(header, str) or not header):
        raise SettingsError(f"{where}.header must be a header name")
    return Conversation(ttl, header.lower() if header else None)


def _model(value: Any, where: str, catalog: Catalog) -> str:
    """The canonical name of a chat model the catalog serves; SettingsError naming the models otherwise."""
    route = catalog.resolve(value) if isinstance(value, str) else None
    if route is None:
        served = ", ".join(sorted(r.name for r in catalog.routes.values() if r.kind == "chat"))
        detail = " (a routing policy cannot pick another virtual model)" if catalog.resolve_virtual(str(value)) else ""
        raise SettingsError(f"{where} names model {value!r}, which does not exist{detail}; chat models: {served}")
    if route.kind != "chat":
        raise SettingsError(f"{where} names {value!r}, which serves {route.kind}: routing policies pick chat models")
    return route.name


def _strings(value: Any, where: str) -> frozenset[str]:
    """A string or a list of strings, as a set."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) and i for i in items):
        raise SettingsError(f"{where} must be a string or a list of strings; got {value!r}")
    return frozenset(items)


def unreachable(policy: RoutingPolicy) -> list[str]:
    """Why parts of `policy` can never decide anything (for `llm-gateway check`), in words an operator can act on."""
    findings = []
    where = f"model {policy.name!r} routing"
    for index, rule in enumerate(policy.rules):
        header = rule.when.header
        if header is not None and header[0].startswith("x-gateway-"):
            findings.append(
                f"{where}: rule {rule.name!r} can never match: Envoy removes the x-gateway-* headers clients send "
                f"(its header {header[0]!r}); use another name"
            )
        earlier = next((r for r in policy.rules[:index] if r.when.always or r.when == rule.when), None)
        if earlier is not None:
            why = "matches every request (it has no `when`)" if earlier.when.always else "has the same `when`"
            findings.append(f"{where}: rule {rule.name!r} can never match: rule {earlier.name!r} before it {why}")
        if rule.classify is not None:
            rows = rule.classify.table
            for position, row in enumerate(rows):
                covering = next((r for r in rows[:position] if r.task in (None, row.task) and r.complexity in (None, row.complexity)), None)
                if covering is not None:
                    findings.append(
                        f"{where}: rule {rule.name!r}, table row {position + 1} ({_row_text(row)}) can never match: "
                        f"row {rows.index(covering) + 1} ({_row_text(covering)}) before it takes every request it would"
                    )
    return findings


def _row_text(row: TableRow) -> str:
    parts = [f"task {row.task}" if row.task else "", f"complexity {row.complexity}" if row.complexity else ""]
    return " and ".join(p for p in parts if p) + f" -> {row.model}"
