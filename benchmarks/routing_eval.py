"""How well the routing classifier labels requests, what routing by it saves, and what it costs.

    .venv/bin/python -m benchmarks.routing_eval                       # training set, cross-validated
    .venv/bin/python -m benchmarks.routing_eval --set FILE.jsonl      # a held-out set, shipped model

On a held-out file the shipped model (extproc/routing/data, or --model DIR) classifies every
example; without --set the training set is scored by 5-fold grouped cross-validation (each
example predicted by a model that never saw its source file, or with --cv-groups request its
near-copies), with the shipped temperatures. Held-out sets: holdout.jsonl has been used for
development (model selection looked at its aggregate figures); holdout2.jsonl was scored once,
on the frozen model (docs/benchmarks.md).

Printed: accuracy and confusion matrices for task and complexity (also by language and prompt
length); reliability (accuracy of the predictions at or above each confidence); the routing
policy "small model only when the classifier says simple with at least the floor's confidence,
else the large model", per floor, with the share of complex prompts that reach the large model and
the cost against always-large at LiteLLM's prices (gpt-4o-mini vs gpt-4o); the classifier's
latency by prompt length, next to json.loads of the same body as a same-run reference; and the
memory the loaded model adds to a process.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import time
from collections import Counter
from pathlib import Path

import numpy as np

from extproc.routing.classifier import COMPLEXITIES, MODEL_FILE, SETTINGS_FILE, TASKS, Classifier
from extproc.routing.train import CHOSEN, TRAINING_SET, cross_val_logits, load_examples, softmax

SMALL_MODEL, LARGE_MODEL = "gpt-4o-mini", "gpt-4o"
# Completion length assumed per complexity (tokens): a short answer vs a long, structured one.
COMPLETION_TOKENS = {"simple": 150, "complex": 600}
FLOORS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99)
CONFIDENCE_LEVELS = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
QUALITY_AIM = 0.95
LATENCY_TOKENS = (10, 200, 1000, 5000)


def predictions(examples: list[dict], held_out: bool, classifier: Classifier,
                cv_groups: str = "source") -> tuple[np.ndarray, np.ndarray]:
    """Task and complexity probabilities of every example (columns in TASKS, COMPLEXITIES order)."""
    if held_out:
        task = np.zeros((len(examples), len(TASKS)))
        complexity = np.zeros((len(examples), len(COMPLEXITIES)))
        for i, example in enumerate(examples):
            task[i], complexity[i] = classifier.probabilities(example["messages"])
        return task, complexity
    metadata = json.loads(SETTINGS_FILE.read_text(encoding="utf-8"))
    task_scores, complexity_scores = cross_val_logits(examples, CHOSEN, by=cv_groups)
    return (softmax(task_scores, metadata["task"]["temperature"]),
            softmax(complexity_scores, metadata["complexity"]["temperature"]))


def confusion(truth: list[str], predicted: list[str], labels: tuple[str, ...]) -> str:
    """A confusion matrix as a Markdown table (rows: true label, columns: predicted)."""
    counts = Counter(zip(truth, predicted))
    short = [label[:8] for label in labels]
    lines = ["| true \\ predicted | " + " | ".join(short) + " | recall |", "|---" * (len(labels) + 2) + "|"]
    for label in labels:
        row = [counts[label, other] for other in labels]
        recall = counts[label, label] / max(1, sum(row))
        lines.append(f"| {label} | " + " | ".join(str(n) for n in row) + f" | {recall:.2f} |")
    return "\n".join(lines)


def reliability(confidence: np.ndarray, correct: np.ndarray) -> str:
    """Accuracy and coverage of the predictions at or above each confidence level, and the ECE."""
    lines = ["| confidence >= | share of requests | accuracy |", "|---|---:|---:|"]
    for level in CONFIDENCE_LEVELS:
        kept = confidence >= level
        accuracy = correct[kept].mean() if kept.any() else float("nan")
        lines.append(f"| {level:.2f} | {kept.mean():.3f} | {accuracy:.3f} |")
    bins = np.minimum((confidence * 10).astype(int), 9)
    ece = sum(abs(correct[bins == b].mean() - confidence[bins == b].mean()) * (bins == b).mean()
              for b in range(10) if (bins == b).any())
    return "\n".join(lines) + f"\n\nexpected calibration error (10 bins): {ece:.3f}"


def prompt_tokens(examples: list[dict]) -> np.ndarray:
    """Prompt tokens of each example, counted by LiteLLM for the large model."""
    import litellm  # slow import, only for the cost section

    return np.array([litellm.token_counter(model=LARGE_MODEL, messages=example["messages"]) for example in examples])


def routing_table(examples: list[dict], p_complex: np.ndarray, tokens: np.ndarray, weights: np.ndarray) -> str:
    """Per floor: share of complex prompts sent large, share of requests sent small, cost vs always-large."""
    import litellm

    prices = {model: (litellm.model_cost[model]["input_cost_per_token"], litellm.model_cost[model]["output_cost_per_token"])
              for model in (SMALL_MODEL, LARGE_MODEL)}
    is_complex = np.array([example["complexity"] == "complex" for example in examples])
    completion = np.array([COMPLETION_TOKENS[example["complexity"]] for example in examples])

    def cost(model: str) -> np.ndarray:
        prompt_price, completion_price = prices[model]
        return tokens * prompt_price + completion * completion_price

    small, large = cost(SMALL_MODEL), cost(LARGE_MODEL)
    always_large = float((large * weights).sum())
    lines = ["| policy | complex prompts to large | requests to small | cost vs always-large |", "|---|---:|---:|---:|"]

    def row(name: str, to_small: np.ndarray) -> None:
        reached = (weights * (is_complex & ~to_small)).sum() / (weights * is_complex).sum()
        spent = float((np.where(to_small, small, large) * weights).sum())
        lines.append(f"| {name} | {reached:.3f} | {(weights * to_small).sum() / weights.sum():.3f} | {spent / always_large:.3f} |")

    reaching = [floor for floor in FLOORS
                if (weights * (is_complex & ((1 - p_complex) < floor))).sum() / (weights * is_complex).sum() >= QUALITY_AIM]
    row("always large", np.zeros(len(examples), dtype=bool))
    row("oracle (true labels)", ~is_complex)
    for floor in FLOORS:
        row(f"small if P(simple) >= {floor:.2f}", (1 - p_complex) >= floor)
    verdict = (f"lowest floor with >= {QUALITY_AIM} of complex prompts on the large model: {reaching[0]:.2f}"
               if reaching else f"no floor up to {FLOORS[-1]} sends {QUALITY_AIM} of complex prompts to the large model")
    return "\n".join(lines) + f"\n\n{verdict}"


def latency(classifier: Classifier, examples: list[dict]) -> str:
    """p50/p99 of classify() and of json.loads of the same body, by prompt length."""
    import litellm  # its bundled tokenizer: nothing is fetched

    text = "\n\n".join(e["messages"][-1]["content"] for e in examples if e.get("lang") == "en")
    corpus = litellm.encode(model=LARGE_MODEL, text=text[:200_000])
    lines = ["| prompt tokens | classify p50 ms | classify p99 ms | json.loads p50 ms | runs |", "|---:|---:|---:|---:|---:|"]
    for n in LATENCY_TOKENS:
        runs = 2000 if n <= 1000 else 500
        messages = [{"role": "user", "content": litellm.decode(model=LARGE_MODEL, tokens=corpus[:n])}]
        body = json.dumps({"model": "auto", "messages": messages})
        for _ in range(50):
            classifier.classify(messages)
        timings, parse = [], []
        for _ in range(runs):
            started = time.perf_counter()
            classifier.classify(messages)
            middle = time.perf_counter()
            json.loads(body)
            timings.append(middle - started)
            parse.append(time.perf_counter() - middle)
        timings.sort()
        lines.append(f"| {n} | {statistics.median(timings) * 1e3:.3f} | {timings[int(runs * 0.99)] * 1e3:.3f} | "
                     f"{statistics.median(parse) * 1e3:.3f} | {runs} |")
    return "\n".join(lines)


def memory(model_dir: Path) -> tuple[str, Classifier]:
    """RSS of this process before and after importing and loading the classifier."""
    import psutil

    process = psutil.Process(os.getpid())
    gc.collect()
    before = process.memory_info().rss
    started = time.perf_counter()
    classifier = Classifier.load(model_dir / MODEL_FILE.name, model_dir / SETTINGS_FILE.name)
    loaded = time.perf_counter() - started
    gc.collect()
    after = process.memory_info().rss
    return f"load {loaded * 1e3:.0f} ms; RSS +{(after - before) / 2**20:.1f} MiB (model arrays)", classifier


def by_group(examples: list[dict], correct: np.ndarray, key) -> str:  # noqa: ANN001
    """Accuracy per value of key(example)."""
    groups: dict[str, list[bool]] = {}
    for example, ok in zip(examples, correct):
        groups.setdefault(key(example), []).append(bool(ok))
    return ", ".join(f"{name} {np.mean(oks):.3f} (n={len(oks)})" for name, oks in sorted(groups.items()))


def recall_by_group(examples: list[dict], predicted: list[str], key) -> str:  # noqa: ANN001
    """Per value of key(example): how many of each true label were predicted right ("complex 12/20")."""
    counts: dict[str, Counter] = {}
    for example, label in zip(examples, predicted):
        counts.setdefault(key(example), Counter())[example["complexity"], example["complexity"] == label] += 1
    return "; ".join(
        f"{name}: " + ", ".join(f"{c} {n[c, True]}/{n[c, True] + n[c, False]}" for c in COMPLEXITIES)
        for name, n in sorted(counts.items())
    )


def length_bucket(example: dict) -> str:
    """Short (< 100 words), medium, or long (>= 400 words) by the words of every message."""
    words = sum(len(str(m.get("content", "")).split()) for m in example["messages"])
    return "a<100w" if words < 100 else "b100-399w" if words < 400 else "c>=400w"


def main(argv: list[str] | None = None) -> int:
    """Print the evaluation as Markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", type=Path, default=None, help="a labelled JSON Lines file (default: the training set, cross-validated)")
    parser.add_argument("--simple-share", type=float, default=0.7,
                        help="share of simple requests in the reweighted workload of the second cost table")
    parser.add_argument("--model", type=Path, default=MODEL_FILE.parent,
                        help="directory of the model to score on --set (default: the shipped one)")
    parser.add_argument("--cv-groups", choices=("source", "request"), default="source",
                        help="without --set: keep each source file (default) or each request in one fold")
    parser.add_argument("--no-latency", action="store_true", help="skip the latency and memory sections")
    args = parser.parse_args(argv)
    held_out = args.set is not None
    path = args.set or TRAINING_SET
    examples = load_examples(path)
    mem_line, classifier = memory(args.model)
    task_p, complexity_p = predictions(examples, held_out, classifier, args.cv_groups)
    task_true = [e["task"] for e in examples]
    cx_true = [e["complexity"] for e in examples]
    task_pred = [TASKS[i] for i in task_p.argmax(axis=1)]
    cx_pred = [COMPLEXITIES[i] for i in complexity_p.argmax(axis=1)]
    task_ok = np.array([a == b for a, b in zip(task_true, task_pred)])
    cx_ok = np.array([a == b for a, b in zip(cx_true, cx_pred)])
    source = (f"held-out set {path}" if held_out
              else f"training set {path.name}, 5-fold cross-validation grouped by {args.cv_groups}")
    print(f"# Routing classifier on {len(examples)} examples ({source})\n")
    print(f"task accuracy {task_ok.mean():.3f} (aim 0.90), complexity accuracy {cx_ok.mean():.3f} (aim 0.85)\n")
    print(f"by language, task: {by_group(examples, task_ok, lambda e: 'en' if e.get('lang') == 'en' else 'other')}")
    print(f"by language, complexity: {by_group(examples, cx_ok, lambda e: 'en' if e.get('lang') == 'en' else 'other')}")
    print(f"by length, task: {by_group(examples, task_ok, length_bucket)}")
    print(f"by length, complexity: {by_group(examples, cx_ok, length_bucket)}")
    print(f"by length, complexity recall: {recall_by_group(examples, cx_pred, length_bucket)}\n")
    print("## Task\n\n" + confusion(task_true, task_pred, TASKS) + "\n")
    print("## Complexity\n\n" + confusion(cx_true, cx_pred, COMPLEXITIES) + "\n")
    print("## Reliability: task\n\n" + reliability(task_p.max(axis=1), task_ok) + "\n")
    print("## Reliability: complexity\n\n" + reliability(complexity_p.max(axis=1), cx_ok) + "\n")
    tokens = prompt_tokens(examples)
    p_complex = complexity_p[:, COMPLEXITIES.index("complex")]
    is_complex = np.array([c == "complex" for c in cx_true])
    print(f"## Routing by complexity: {SMALL_MODEL} for simple, {LARGE_MODEL} for complex\n")
    print(f"Completion tokens assumed: {COMPLETION_TOKENS}; prompt tokens counted. Aim: >= {QUALITY_AIM} of complex "
          "prompts reach the large model, at <= 50% of always-large's cost.\n")
    print(f"As the set is ({(~is_complex).mean():.0%} simple):\n")
    print(routing_table(examples, p_complex, tokens, np.ones(len(examples))) + "\n")
    share = args.simple_share
    weights = np.where(is_complex, (1 - share) / is_complex.mean(), share / (~is_complex).mean())
    print(f"Reweighted to a workload of {share:.0%} simple requests:\n")
    print(routing_table(examples, p_complex, tokens, weights) + "\n")
    if not args.no_latency:
        print("## Latency (one process, in-process call)\n\n" + latency(classifier, examples) + "\n")
        print(f"## Memory\n\n{mem_line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
