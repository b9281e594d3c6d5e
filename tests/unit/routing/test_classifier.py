"""The shipped routing classifier: loads from the package, answers well-formed and bounded, gets the obvious right."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from extproc.routing.classifier import COMPLEXITIES, MODEL_FILE, SETTINGS_FILE, TASKS, Classifier, Prediction
from extproc.routing.text import HEAD_CHARS, TAIL_CHARS, request_text

TRACEBACK = """Traceback (most recent call last):
  File "/app/main.py", line 12, in <module>
    total = sum(prices) / len(prices)
ZeroDivisionError: division by zero"""


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier.load()


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_the_model_ships_inside_the_package(classifier: Classifier) -> None:
    assert MODEL_FILE.parent.name == "data" and MODEL_FILE.parent.parent.name == "routing"
    assert MODEL_FILE.exists() and SETTINGS_FILE.exists()
    assert classifier.metadata["task"]["labels"] == list(TASKS)
    assert classifier.metadata["complexity"]["labels"] == list(COMPLEXITIES)


def test_loading_and_classifying_never_imports_scikit_learn() -> None:
    code = (
        "import sys\n"
        "from extproc.routing.classifier import Classifier\n"
        "Classifier.load().classify([{'role': 'user', 'content': 'hi'}])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy')))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "messages",
    [
        user("hi"),
        user(""),
        [],
        [{"role": "system", "content": "You are terse."}],
        [{"role": "user", "content": [{"type": "text", "text": "Summarize this"}, {"type": "image_url", "image_url": {"url": "x"}}]}],
        [{"role": "user", "content": None}],
        ["not a message", 3, None],
    ],
)
def test_every_input_gets_a_well_formed_prediction(classifier: Classifier, messages: list) -> None:
    prediction = classifier.classify(messages)
    assert isinstance(prediction, Prediction)
    assert prediction.task in TASKS and prediction.complexity in COMPLEXITIES
    assert 0.0 <= prediction.task_confidence <= 1.0 and 0.0 <= prediction.complexity_confidence <= 1.0
    # The winner of a class is at least as likely as an even split.
    assert prediction.task_confidence >= 1 / len(TASKS) and prediction.complexity_confidence >= 0.5
    task, complexity = classifier.probabilities(messages)
    assert task.sum() == pytest.approx(1.0, abs=1e-5) and complexity.sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(
    ("messages", "task", "complexity"),
    [
        (user("hi!"), "text_generation", "simple"),
        (user("thanks, that helped a lot"), "text_generation", "simple"),
        (user(f"Why does this happen?\n\n{TRACEBACK}"), "code", None),
        (user("Translate to French: where is the train station?"), "translation", "simple"),
        (user("What is 15% of 80?"), "math", "simple"),
        (user("What is the capital of Japan?"), "question_answering", "simple"),
        (user('Is this review positive or negative? "Terrible service, cold food."'), "sentiment_analysis", "simple"),
        (user("Summarize in one sentence: The library will close on Monday for repairs and reopen on Tuesday."),
         "summarization", "simple"),
        (user("Write a haiku about the sea."), "text_generation", "simple"),
        (user("Design a distributed lock service with fencing tokens, explain the failure modes under network "
              "partitions, and compare it with Redlock and ZooKeeper recipes."), "code", "complex"),
        (user("Prove that there are infinitely many primes, then prove that there are infinitely many primes "
              "of the form 4k+3."), "math", "complex"),
    ],
)
def test_obvious_requests_get_the_obvious_labels(classifier: Classifier, messages: list, task: str, complexity: str | None) -> None:
    prediction = classifier.classify(messages)
    assert prediction.task == task, prediction
    if complexity is not None:
        assert prediction.complexity == complexity, prediction


@pytest.mark.parametrize(
    ("text", "task"),
    [
        ("Traduce al inglés: «Mañana no hay clase.»", "translation"),
        ("Übersetze ins Englische: „Der Zug hat Verspätung.“", "translation"),
        ("请用一句话总结：公司下个月起实行弹性工作制。", "summarization"),
        ("このレビューはポジティブですか？「とても美味しかったです。」", "sentiment_analysis"),
        ("Сколько будет 25 процентов от 600?", "math"),
        ("Comment supprimer les doublons d'une liste en Python ?", "code"),
        ("Quem escreveu Dom Casmurro?", "question_answering"),
        ("Escribe un poema corto sobre el otoño.", "text_generation"),
    ],
)
def test_requests_in_other_languages(classifier: Classifier, text: str, task: str) -> None:
    assert classifier.classify(user(text)).task == task


def test_an_earlier_turn_gives_a_short_follow_up_its_meaning(classifier: Classifier) -> None:
    messages = [
        {"role": "user", "content": "Translate 'good morning' into Spanish."},
        {"role": "assistant", "content": "Buenos días."},
        {"role": "user", "content": "and into German?"},
    ]
    assert classifier.classify(messages).task == "translation"


def test_a_huge_paste_is_read_only_at_its_head_and_tail(classifier: Classifier) -> None:
    filler = "The committee met again and discussed the budget in detail. " * 10_000
    one = user(f"Summarize this report in one sentence.\n\n{filler}{'ALPHA ' * 1000}{filler}Thank you.")
    other = user(f"Summarize this report in one sentence.\n\n{filler}{'OMEGA ' * 1000}{filler}Thank you.")
    assert len(request_text(one).last) <= HEAD_CHARS + TAIL_CHARS + 3
    # The middles differ but are never read: the same head and tail give the same answer.
    np.testing.assert_array_equal(classifier.probabilities(one)[0], classifier.probabilities(other)[0])
    # Only the lengths see the whole text.
    assert request_text(one).last_chars == len(one[0]["content"])


def test_text_parts_read_like_a_string(classifier: Classifier) -> None:
    text = "Write a Python function that reverses a string."
    parts = [{"role": "user", "content": [{"type": "text", "text": text}]}]
    np.testing.assert_allclose(classifier.probabilities(parts)[0], classifier.probabilities(user(text))[0])
