"""Build the routing classifier's training set, train.jsonl, from the hand-written sources.

    python tests/data/routing/make_train.py           # write train.jsonl
    python tests/data/routing/make_train.py --check   # exit 1 if train.jsonl is not what it builds

Three parts, all written by hand under sources/ (labels follow ROUTING_RUBRIC: the task and
complexity of the last user turn):
- requests written whole: one task per file (code.txt, code_2.txt, math.txt ...), or the task
  in each header (conversations.txt, and mixed_*.txt in other languages);
- instructions*.txt, each paired with documents from documents*.txt (news, reviews, code files,
  stack traces, contracts, e-mails, notes, transcripts, specs, abstracts, stories, policies, up
  to 1,500 words) or with logs assembled from logs.txt, in several framings (instruction before
  or after, quoted, on the paste's first line, after a neutral lead-in, before a sign-off, as a
  second turn, with a system prompt). Every document is used by instructions of several tasks, so a document's
  content says nothing about the label;
- some written requests again, after an unrelated earlier exchange.
An example's id names where it comes from: "w-<file>-<n>" and "<file>-<n>" for written requests,
"d<instruction>-<n>" for an instruction's draws, "...-ctx" for a repeat after an unrelated
exchange. Cross-validation keeps each source file (and each instruction's draws) within one fold.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
OUTPUT = HERE / "train.jsonl"
SEED = 15
# Written requests: sources/<prefix>.txt and sources/<prefix>_<n>.txt hold one task each.
TASK_FILES = {
    "code": "code",
    "math": "math",
    "summarization": "summarization",
    "translation": "translation",
    "sentiment": "sentiment_analysis",
    "qa": "question_answering",
    "generation": "text_generation",
}
COMPLEXITY = {"s": "simple", "c": "complex"}
ROLE_LINE = re.compile(r"^@(system|user|assistant)$")
# Examples drawn per instruction, by how specific its documents are and its complexity (complex
# instructions are fewer, so they draw more, to keep the complexities about balanced).
DRAWS = {("one", "simple"): 4, ("one", "complex"): 6, ("named", "simple"): 2, ("named", "complex"): 3,
         ("many", "simple"): 3, ("many", "complex"): 5}
# Share of written requests repeated after an unrelated earlier exchange.
CONTEXT_SHARE = 0.2

GENERIC_SYSTEM_PROMPTS = [
    "You are a helpful assistant.",
    "You are a helpful assistant. Answer in the user's language.",
    "You are an AI assistant for Northwind employees. Be concise and accurate.",
    "You are a helpful, honest assistant. Today's date is 2025-03-14.",
    "Be friendly and professional. If you are unsure, say so.",
    "You are the in-app assistant of a productivity suite. Keep answers well formatted.",
]
UNRELATED_EXCHANGES = [
    ("hi", "Hello! How can I help you today?"),
    ("What's the capital of Peru?", "Lima."),
    ("Can you recommend a podcast about history?", "Try \"Hardcore History\" by Dan Carlin or \"The Rest Is History\"."),
    ("thanks for earlier", "You're welcome! Anything else?"),
    ("How do I say hello in Italian?", "\"Ciao\" (informal) or \"Buongiorno\" (formal)."),
    ("What's 12 times 11?", "132."),
    ("Write a one-line motivational quote.", "Small steps every day add up to big changes."),
    ("Is it going to be hard to learn Python?", "Not very: it's one of the most beginner-friendly languages."),
]
# A document pasted first, then the instruction as the next turn.
PASTE_TURNS = {
    "en": ("Here's something I need help with:", "Got it. What would you like me to do with it?"),
    "es": ("Te paso un texto:", "De acuerdo. ¿Qué quieres que haga con él?"),
    "fr": ("Voici un texte :", "D'accord. Que veux-tu que j'en fasse ?"),
    "de": ("Hier ist ein Text:", "Alles klar. Was soll ich damit machen?"),
}
# A neutral first line before the paste (the ask comes after it), and a sign-off after it.
LEAD_INS = {
    "en": ["Got this today:", "ok so here it is", "Context below.", "This is what I have so far:", "hey, see below"],
    "es": ["Me ha llegado esto:", "Aquí lo tienes:"],
    "fr": ["J'ai reçu ça :", "Voilà le texte :"],
    "de": ["Das kam heute rein:", "Hier der Text:"],
}
SIGN_OFFS = {
    "en": ["Thanks!", "thx in advance", "Cheers.", "Appreciate it!"],
    "es": ["¡Gracias!", "Mil gracias."],
    "fr": ["Merci !", "Merci d'avance."],
    "de": ["Danke!", "Vielen Dank im Voraus."],
}
CODE_FENCE = {"py": "python", "js": "javascript", "ts": "typescript", "go": "go", "java": "java",
              "sql": "sql", "yaml": "yaml", "bash": "bash", "rust": "rust"}


@dataclass(frozen=True)
class Document:
    """A pasteable text from documents.txt or an assembled log."""

    kind: str
    lang: str
    name: str
    text: str


@dataclass(frozen=True)
class Instruction:
    """An instruction from instructions.txt and the documents it applies to."""

    task: str
    complexity: str
    lang: str
    kinds: tuple[str, ...]
    doc_lang: str
    size: str
    text: str


def _blocks(path: Path) -> list[tuple[list[str], str]]:
    """(header fields, body) of each "%% ..." block of a source file."""
    blocks: list[tuple[list[str], list[str]]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("%% "):
            blocks.append((line[3:].split(), []))
        elif blocks:
            blocks[-1][1].append(line)
        elif line.strip() and not line.startswith("#"):
            raise ValueError(f"{path.name}: text before the first %% header: {line!r}")
    return [(header, "\n".join(body).strip()) for header, body in blocks]


def _messages(body: str) -> list[dict[str, str]]:
    """The messages of a block: "@role" lines switch the speaker; no marker means one user turn."""
    messages: list[dict[str, str]] = []
    role, lines = "user", []
    for line in body.splitlines():
        marker = ROLE_LINE.match(line)
        if marker:
            if lines and "\n".join(lines).strip():
                messages.append({"role": role, "content": "\n".join(lines).strip()})
            role, lines = marker.group(1), []
        else:
            lines.append(line)
    messages.append({"role": role, "content": "\n".join(lines).strip()})
    if messages[-1]["role"] != "user" or not messages[-1]["content"]:
        raise ValueError(f"a request must end with a user turn: {body[:80]!r}")
    return messages


def written_requests() -> list[dict]:
    """The requests written whole, in file order."""
    examples = []
    for prefix, task in TASK_FILES.items():
        for path in [SOURCES / f"{prefix}.txt"] + sorted(SOURCES.glob(f"{prefix}_*.txt")):
            for n, (header, body) in enumerate(_blocks(path), 1):
                complexity, lang = header
                examples.append(_example(f"w-{path.stem}-{n:03d}", _messages(body), task, COMPLEXITY[complexity], lang))
    # Files whose headers name the task: conversations, and requests in other languages.
    for path in sorted(SOURCES.glob("conversations*.txt")) + sorted(SOURCES.glob("mixed_*.txt")):
        for n, (header, body) in enumerate(_blocks(path), 1):
            task, complexity, lang = header
            examples.append(_example(f"{path.stem}-{n:03d}", _messages(body), task, COMPLEXITY[complexity], lang))
    return examples


def documents() -> list[Document]:
    """The hand-written documents."""
    return [Document(kind, lang, name, body)
            for path in sorted(SOURCES.glob("documents*.txt")) for (kind, lang, name), body in _blocks(path)]


def logs(rng: random.Random, count: int = 10) -> list[Document]:
    """Logs of 30 to 400 lines: background lines, then a scenario's lines spread through the second half."""
    blocks = {" ".join(header): body.splitlines() for header, body in _blocks(SOURCES / "logs.txt")}
    normal = blocks.pop("normal")
    scenarios = sorted(blocks)
    made = []
    for i in range(count):
        scenario = scenarios[i % len(scenarios)]
        lines = [rng.choice(normal) for _ in range(rng.choice([30, 60, 120, 250, 400]))]
        half = len(lines) // 2
        for step, line in enumerate(blocks[scenario]):
            lines.insert(half + step * (len(lines) - half) // len(blocks[scenario]), line)
        seconds = rng.randrange(3600 * 24)
        stamped = []
        for line in lines:
            seconds += rng.randrange(0, 4)
            stamp = f"2025-03-{rng.choice(['04', '11', '18'])}T{seconds // 3600 % 24:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}Z"
            stamped.append(f"{stamp} {_fill(line, rng)}")
        made.append(Document("log", "en", f"log-{scenario.split()[-1]}-{i}", "\n".join(stamped)))
    return made


def _fill(line: str, rng: random.Random) -> str:
    """A log line with its placeholders given values."""
    line = re.sub(r"\{n\}", lambda _: str(rng.randrange(2, 60)), line)
    line = re.sub(r"\{ms\}", lambda _: str(rng.randrange(3, 2500)), line)
    line = re.sub(r"\{id\}", lambda _: f"{rng.randrange(16**6):06x}", line)
    return re.sub(r"\{ip\}", lambda _: f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}", line)


def instructions() -> list[Instruction]:
    """The instructions to pair with documents."""
    parsed = []
    lines = [line for path in sorted(SOURCES.glob("instructions*.txt")) for line in path.read_text(encoding="utf-8").splitlines()]
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        head, kinds, doc_lang, size, text = (part.strip() for part in line.split("|", 4))
        task, complexity, lang = head.split()
        parsed.append(Instruction(task, COMPLEXITY[complexity], lang, tuple(kinds.split(",")), doc_lang, size, text))
    return parsed


def _matches(instruction: Instruction, doc: Document) -> bool:
    """Whether an instruction applies to a document."""
    if not any(kind == doc.kind or kind == f"@{doc.name}" for kind in instruction.kinds):
        return False
    wanted = instruction.doc_lang
    if wanted == "*":
        return True
    return doc.lang != wanted[1:] if wanted.startswith("!") else doc.lang == wanted


def _pasted(doc: Document) -> str:
    """A document as a user pastes it: code and traces often fenced."""
    if doc.kind == "code":
        return f"```{CODE_FENCE.get(doc.name.split('-')[0], '')}\n{doc.text}\n```"
    if doc.kind in ("trace", "log") and len(doc.text) < 4000:
        return f"```\n{doc.text}\n```"
    return doc.text


def _several(docs: list[Document], rng: random.Random) -> str:
    """Several documents pasted one after the other, numbered or separated."""
    if docs[0].kind == "code":
        return "\n\n".join(f"{doc.name.replace('-', '_')}:\n{_pasted(doc)}" for doc in docs)
    style = rng.choice(["number", "rule", "bracket"])
    if style == "number":
        return "\n\n".join(f"{n}.\n{doc.text}" for n, doc in enumerate(docs, 1))
    if style == "rule":
        return "\n\n---\n\n".join(doc.text for doc in docs)
    return "\n\n".join(f"[{n}] {doc.text}" for n, doc in enumerate(docs, 1))


def _framed(instruction: Instruction, pasted: str, rng: random.Random) -> list[dict[str, str]]:
    """The messages of one instruction over pasted text, in one of several framings."""
    framings = ["before", "after", "quoted", "rule", "inline"]
    if instruction.lang in PASTE_TURNS:
        framings += ["second_turn", "lead_in", "sign_off"]
    framing = rng.choice(framings)
    if framing == "second_turn":
        intro, ack = PASTE_TURNS[instruction.lang]
        messages = [
            {"role": "user", "content": f"{intro}\n\n{pasted}"},
            {"role": "assistant", "content": ack},
            {"role": "user", "content": instruction.text},
        ]
    else:
        content = {
            "before": f"{instruction.text}\n\n{pasted}",
            "after": f"{pasted}\n\n{instruction.text}",
            "quoted": f'{instruction.text}\n\n"""\n{pasted}\n"""',
            "rule": f"{instruction.text}\n\n---\n{pasted}\n---",
            "inline": f"{instruction.text} {pasted}",
            "lead_in": f"{rng.choice(LEAD_INS.get(instruction.lang, ['']))}\n\n{pasted}\n\n{instruction.text}",
            "sign_off": f"{instruction.text}\n\n{pasted}\n\n{rng.choice(SIGN_OFFS.get(instruction.lang, ['']))}",
        }[framing]
        messages = [{"role": "user", "content": content}]
    if rng.random() < 0.25:
        messages.insert(0, {"role": "system", "content": rng.choice(GENERIC_SYSTEM_PROMPTS)})
    return messages


def composed(rng: random.Random) -> list[dict]:
    """Each instruction paired with documents it applies to."""
    docs = documents() + logs(rng)
    examples = []
    for i, instruction in enumerate(instructions(), 1):
        candidates = [doc for doc in docs if _matches(instruction, doc)]
        if not candidates:
            raise ValueError(f"no document fits instruction {i}: {instruction.text[:60]!r}")
        named = all(kind.startswith("@") for kind in instruction.kinds)
        draws = DRAWS["many" if instruction.size == "many" else "named" if named else "one", instruction.complexity]
        for n in range(draws):
            if instruction.size == "many":
                chosen = rng.sample(candidates, min(len(candidates), rng.randint(3, 8)))
                pasted = _several(chosen, rng)
            else:
                pasted = _pasted(candidates[(n + rng.randrange(len(candidates))) % len(candidates)])
            messages = _framed(instruction, pasted, rng)
            examples.append(_example(f"d{i:03d}-{n}", messages, instruction.task, instruction.complexity, instruction.lang))
    return examples


def after_unrelated_exchange(written: list[dict], rng: random.Random) -> list[dict]:
    """Some single-turn written requests again, after an earlier exchange about something else."""
    single = [example for example in written if len(example["messages"]) == 1]
    examples = []
    for example in rng.sample(single, int(len(single) * CONTEXT_SHARE)):
        question, answer = rng.choice(UNRELATED_EXCHANGES)
        messages = [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]
        examples.append({**example, "id": f"{example['id']}-ctx", "messages": messages + example["messages"]})
    return examples


def _example(id_: str, messages: list[dict[str, str]], task: str, complexity: str, lang: str) -> dict:
    return {"id": id_, "messages": messages, "task": task, "complexity": complexity, "lang": lang}


def build() -> str:
    """The whole training set as JSON Lines."""
    rng = random.Random(SEED)
    written = written_requests()
    examples = written + composed(rng) + after_unrelated_exchange(written, rng)
    ids = [example["id"] for example in examples]
    if len(set(ids)) != len(ids):
        raise ValueError("duplicate ids")
    return "".join(json.dumps(example, ensure_ascii=False) + "\n" for example in examples)


def main(argv: list[str] | None = None) -> int:
    """Write train.jsonl, or with --check compare it with what the sources build."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if train.jsonl differs from the build")
    args = parser.parse_args(argv)
    text = build()
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text(encoding="utf-8") != text:
            print(f"{OUTPUT} is not what make_train.py builds; run it to regenerate.", file=sys.stderr)
            return 1
        print(f"{OUTPUT.name} matches its sources ({text.count(chr(10))} examples).")
        return 0
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {text.count(chr(10))} examples to {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
