"""What every scorer sees and says: the answer to a case, a score, and the tools a judge needs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

SERVED_MODEL_HEADER = "x-gateway-served-model"


class SuiteError(ValueError):
    """A suite that cannot run, with every problem found, each naming where it is."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Answer:
    """What the gateway answered to one request: status, the text to score, the JSON body and the headers."""

    status: int
    # The completion's text; for an error, the error's message; for embeddings, empty.
    text: str
    body: Any = None
    # Lower-case names.
    headers: Mapping[str, str] = field(default_factory=dict)
    latency_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True for a 2xx answer."""
        return 200 <= self.status < 300

    @property
    def served_model(self) -> str | None:
        """The model that served the answer, as the gateway says in its headers."""
        return self.headers.get(SERVED_MODEL_HEADER)


@dataclass(frozen=True, slots=True)
class Score:
    """One scorer's verdict on one answer, and why."""

    scorer: str
    passed: bool
    detail: str = ""


class Context(Protocol):
    """What judge scorers may ask of the runner: a judge model's answer, another model's answer to the case."""

    # The case's request as text (its messages, or its prompt reference), shown to the judge.
    request_text: str

    async def judge(self, messages: list[dict[str, Any]]) -> Answer:
        """The judge model's answer to `messages`, through the gateway."""
        ...

    async def answer_with(self, model: str) -> Answer:
        """The answer `model` gives to the case being scored (for pairwise comparisons)."""
        ...


class Scorer(Protocol):
    """Scores an answer; `name` is the key that names it in a suite (`contains`, `judge`, ...)."""

    @property
    def name(self) -> str:
        """The suite key (read-only: scorers are frozen dataclasses)."""
        ...

    async def score(self, answer: Answer, context: Context) -> Score:
        """Pass or fail, with a detail a person reading the report can act on."""
        ...
