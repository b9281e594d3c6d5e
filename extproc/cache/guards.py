"""Guards against a semantic cache's known wrong hits: two prompts close in embedding space that
ask for different answers.

Each guard compares the cached prompt with the new one and names what differs;
any difference refuses the hit, whatever the similarity. An embedding model
places "convert 5 miles to km" and "convert 5 km to miles" at 0.99: only a
guard tells them apart. `benchmarks/semantic_cache_eval.py` measures what each
guard blocks and what it costs in lost hits.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

_WORD = re.compile(r"[^\W_]+(?:'[a-z]+)?", re.UNICODE)
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:[.,]\d+)*(?![\w])")
NUMBER_WORDS = {
    "zero": "0", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13", "fourteen": "14",
    "fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18", "nineteen": "19", "twenty": "20",
    "thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90",
    "hundred": "100", "thousand": "1000", "million": "1000000", "dozen": "12",
}  # fmt: skip
NEGATIONS = {"not", "no", "never", "without", "cannot", "can't", "don't", "doesn't", "isn't", "aren't", "won't",
             "shouldn't", "wouldn't", "couldn't", "didn't", "none", "nor", "neither", "nothing", "nobody", "stop"}  # fmt: skip
# Pairs of opposites: one prompt using one side and the other the other side ask opposite questions.
OPPOSITES = [
    ("pros", "cons"), ("advantages", "disadvantages"), ("benefits", "drawbacks"), ("for", "against"),
    ("left", "right"), ("increase", "decrease"), ("raise", "lower"), ("above", "below"), ("faster", "slower"),
    ("best", "worst"), ("more", "less"), ("more", "fewer"), ("before", "after"), ("high", "low"),
    ("true", "false"), ("max", "min"), ("maximum", "minimum"), ("largest", "smallest"), ("first", "last"),
    ("encrypt", "decrypt"), ("encode", "decode"), ("import", "export"), ("upload", "download"), ("buy", "sell"),
    ("good", "bad"), ("safe", "dangerous"), ("safe", "toxic"), ("enable", "disable"), ("positive", "negative"),
    ("ascending", "descending"), ("synonyms", "antonyms"), ("uppercase", "lowercase"), ("like", "dislike"),
    ("eat", "avoid"), ("include", "exclude"), ("add", "remove"), ("open", "close"), ("hot", "cold"),
    ("fat", "water"), ("start", "end"), ("north", "south"), ("east", "west"), ("win", "lose"), ("old", "new"),
    ("on", "off"), ("favor", "against"), ("favour", "against"), ("rise", "fall"), ("success", "failure"),
]
_OPPOSITE = {a: b for a, b in OPPOSITES} | {b: a for a, b in OPPOSITES}
UNITS = {
    "km": "km", "kilometer": "km", "kilometers": "km", "kilometre": "km", "kilometres": "km",
    "mile": "mi", "miles": "mi", "mi": "mi", "m": "m", "meter": "m", "meters": "m", "metre": "m", "metres": "m",
    "cm": "cm", "mm": "mm", "ft": "ft", "foot": "ft", "feet": "ft", "inch": "in", "inches": "in", "yard": "yd",
    "yards": "yd", "kg": "kg", "kilogram": "kg", "kilograms": "kg", "kilo": "kg", "kilos": "kg", "g": "g",
    "gram": "g", "grams": "g", "lb": "lb", "lbs": "lb", "pound": "lb", "pounds": "lb", "oz": "oz", "ounce": "oz",
    "ounces": "oz", "stone": "st", "c": "degc", "celsius": "degc", "centigrade": "degc", "f": "degf",
    "fahrenheit": "degf", "k": "kelvin", "kelvin": "kelvin", "l": "l", "liter": "l", "liters": "l", "litre": "l",
    "litres": "l", "ml": "ml", "gallon": "gal", "gallons": "gal", "cup": "cup", "cups": "cup", "usd": "usd",
    "dollar": "usd", "dollars": "usd", "eur": "eur", "euro": "eur", "euros": "eur", "gbp": "gbp", "jpy": "jpy",
    "yen": "jpy", "mb": "mb", "gb": "gb", "kb": "kb", "tb": "tb", "mib": "mib", "gib": "gib", "kib": "kib",
    "hour": "h", "hours": "h", "minute": "min", "minutes": "min", "second": "s", "seconds": "s", "day": "day",
    "days": "day", "week": "week", "weeks": "week", "month": "month", "months": "month", "year": "year",
    "years": "year", "mph": "mph", "kph": "kph", "kmh": "kph", "acre": "acre", "acres": "acre", "hectare": "ha",
    "hectares": "ha", "byte": "byte", "bytes": "byte", "bit": "bit", "bits": "bit",
}  # fmt: skip
# Words that say what to do with the subject; two prompts asking different ones want different answers.
TASKS = {
    "summarise": "summary", "summarize": "summary", "summary": "summary", "tl;dr": "summary",
    "translate": "translate", "translation": "translate", "poem": "poem", "haiku": "poem", "limerick": "poem",
    "story": "story", "essay": "essay", "implement": "code", "prove": "proof", "proof": "proof",
    "recipe": "recipe", "calories": "nutrition", "analyze": "analysis", "analyse": "analysis", "themes": "analysis",
    "joke": "joke", "slogan": "slogan", "tweet": "tweet", "outline": "outline", "count": "count",
    "rewrite": "rewrite", "paraphrase": "rewrite", "plot": "plot", "graph": "plot",
    "factor": "factor", "solve": "solve", "quiz": "quiz", "review": "review", "tests": "tests",
}
# A few frequent words per language: the language a prompt is written in is the one its answer comes in.
LANGUAGE_WORDS = {
    "en": {"the", "is", "what", "how", "and", "of", "to", "in", "a", "for", "do", "i", "you", "can", "my", "with"},
    "de": {"der", "die", "das", "ist", "wie", "und", "ich", "nicht", "ein", "eine", "was", "mit", "für", "kann"},
    "fr": {"le", "la", "les", "est", "comment", "et", "je", "un", "une", "des", "quelle", "quel", "pour", "dans", "du"},
    "es": {"el", "la", "los", "las", "es", "cómo", "qué", "y", "un", "una", "para", "en", "del", "puedo", "cuál"},
    "it": {"il", "lo", "gli", "è", "come", "che", "e", "un", "una", "per", "di", "della", "qual", "quale", "posso"},
    "pt": {"o", "os", "as", "é", "como", "que", "e", "um", "uma", "para", "em", "do", "da", "qual", "posso"},
}  # fmt: skip
# Capitalised words that are not names: sentence starts and question words.
_NOT_NAMES = {"i", "what", "how", "why", "when", "where", "who", "which", "can", "could", "would", "should", "is",
              "are", "do", "does", "please", "tell", "give", "write", "explain", "the", "a", "an", "in", "on", "my",
              "list", "show", "make", "create", "find", "convert", "translate", "summarise", "summarize", "describe"}  # fmt: skip


def words(text: str) -> list[str]:
    """Lower-cased words, with contractions kept whole ("don't") and possessives dropped ("python")."""
    return [w.lower().removesuffix("'s") if w.lower() not in ("it's", "what's", "that's") else w.lower()
            for w in _WORD.findall(text.replace("’", "'"))]


def numbers(text: str) -> Counter[str]:
    """The numbers in `text`, digits and number words alike ("two" is 2), as a multiset."""
    found = Counter(n.replace(",", "") for n in _NUMBER.findall(text))
    found.update(NUMBER_WORDS[w] for w in words(text) if w in NUMBER_WORDS)
    return found


def negations(text: str) -> int:
    """How many negations `text` holds ("not", "never", "don't", ...)."""
    return sum(1 for w in words(text) if w in NEGATIONS or w.endswith("n't"))


def opposed(a: str, b: str) -> bool:
    """True when one prompt uses a word where the other uses its opposite ("turn on" / "turn off"),
    or the same word negated by a prefix (healthy / unhealthy, appropriate / inappropriate)."""
    first, second = Counter(words(a)), Counter(words(b))
    only_first, only_second = first - second, second - first
    for word in only_first | only_second:
        other = only_second if word in only_first else only_first
        if _OPPOSITE.get(word) in other:
            return True
        for prefix in ("un", "in", "im", "ir", "il", "dis", "non"):
            if word.startswith(prefix) and len(word) - len(prefix) >= 4 and word[len(prefix):] in other:
                return True
    return False


_STOPWORDS = {"a", "an", "the", "is", "are", "do", "does", "i", "you", "me", "my", "to", "of", "in", "on", "for",
              "and", "or", "can", "how", "what", "what's", "please", "it", "this", "that", "with", "some", "any"}  # fmt: skip


def swapped_or_substituted(a: str, b: str) -> bool:
    """True when two prompts are the same words in another order ("C faster than Python"), or the
    same sentence with one or two content words replaced ("safe" for "toxic"): the near misses that
    embeddings rank highest."""
    first, second = [w.removesuffix("'s") for w in words(a)], [w.removesuffix("'s") for w in words(b)]
    if first != second and sorted(first) == sorted(second):
        return True
    if len(first) != len(second):
        return False
    changed = [(x, y) for x, y in zip(first, second) if x != y]
    return 0 < len(changed) <= 2 and all(x not in _STOPWORDS and y not in _STOPWORDS for x, y in changed)


def units(text: str) -> list[str]:
    """The units `text` names, in order (so "kg to lb" and "lb to kg" differ)."""
    tokens = re.findall(r"°?[a-zA-Z]+", text)
    out = []
    for token in tokens:
        word = token.lower().lstrip("°")
        if word in UNITS and (len(word) > 1 or token.startswith("°") or token.isupper()):
            out.append(UNITS[word])
    return out


def names(text: str) -> set[str]:
    """Capitalised words that are names (France, Python, Hamlet), lower-cased."""
    found = set()
    for match in re.finditer(r"\b[A-Z][\w+#.-]*[\w+#]|\b[A-Z]\b", text):
        before = text[: match.start()].rstrip(" \"'(")
        if not before or before[-1] in ".?!:\n":
            continue  # a sentence's first word says nothing about names
        word = match.group(0).lower().removesuffix("'s")
        if word not in _NOT_NAMES and word not in UNITS and word not in NUMBER_WORDS:
            found.add(word)
    return found


def tasks(text: str) -> set[str]:
    """What the prompt asks to do with its subject (a summary, a poem, code ...)."""
    return {TASKS.get(w) or TASKS[w.removesuffix("s")] for w in words(text) if w in TASKS or w.removesuffix("s") in TASKS}


def language(text: str) -> str:
    """The language whose frequent words `text` uses most ("en" on a tie or with none)."""
    counts = Counter()
    for word in words(text):
        for name, vocabulary in LANGUAGE_WORDS.items():
            if word in vocabulary:
                counts[name] += 1
    name, count = counts.most_common(1)[0] if counts else ("en", 0)
    return name if count >= 2 and count > counts["en"] else "en"


def _same_names(cached: str, query: str) -> bool:
    # Case-blind: a name typed in lower case ("australia") is still the same name.
    cached_words, query_words = set(words(cached)), set(words(query))
    return all(set(words(n)) <= query_words for n in names(cached)) and all(
        set(words(n)) <= cached_words for n in names(query)
    )


GUARDS: dict[str, Callable[[str, str], bool]] = {
    "number": lambda a, b: numbers(a) == numbers(b),
    "negation": lambda a, b: negations(a) == negations(b) and not opposed(a, b),
    "near_miss": lambda a, b: not swapped_or_substituted(a, b),
    # Units matter with quantities ("5 kg to lb"); "the time of year" and "how many days" are prose.
    "unit": lambda a, b: units(a) == units(b) or not (numbers(a) or numbers(b)),
    "entity": _same_names,
    "language": lambda a, b: language(a) == language(b),
    "task": lambda a, b: tasks(a) == tasks(b),
}


def refusals(cached: str, query: str, enabled: tuple[str, ...] = tuple(GUARDS)) -> list[str]:
    """The guards (of `enabled`) that refuse serving `cached`'s answer to `query`; [] lets it hit."""
    return [name for name in enabled if not GUARDS[name](cached, query)]
