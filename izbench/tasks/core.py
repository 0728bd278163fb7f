"""The built-in ``core`` suite: Instruction Induction tasks rebuilt from data packages.

Each generator returns the task's whole universe of examples in a fixed order; the registry
then draws the induce and execute pools from it with a seeded RNG. Word choice comes from
wordfreq's frequent English words so the examples look like upstream's. Sources: num2words,
inflect, pronouncing (CMU dict), WordNet 3.0 (Debian ``wordnet-base``, read by nltk), and two
small tables under ``tasks/tables/``.
"""

from __future__ import annotations

import gzip
import re
import shutil
import warnings
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from izbench.errors import ConfigError
from izbench.paths import user_cache_dir
from izbench.seeding import rng_for
from izbench.tasks.bundled import bundled_tasks_dir
from izbench.tasks.types import Example

WORDNET_DIR = Path("/usr/share/wordnet")
WORDNET_HINT = "install Debian's WordNet data: apt-get install wordnet-base"
TABLES_DIR = bundled_tasks_dir() / "tables"


def wordnet_available() -> bool:
    return (WORDNET_DIR / "data.noun").is_file()


@cache
def wordnet() -> Any:
    """nltk's WordNet reader over Debian's WordNet 3.0 files.

    Debian ships the database but not the small ``lexnames`` index nltk opens, so izbench
    copies the database once into its cache (nltk refuses files reached through links that
    leave its root) and writes ``lexnames`` from the ``lexnames(5WN)`` man page of the package.
    """
    if not wordnet_available():
        raise ConfigError(f"WordNet data not found at {WORDNET_DIR}; {WORDNET_HINT}")
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    view = user_cache_dir("wordnet")
    view.mkdir(parents=True, exist_ok=True)
    for source in WORDNET_DIR.iterdir():
        copy = view / source.name
        if source.is_file() and not copy.exists():
            shutil.copyfile(source, copy)
    lexnames = view / "lexnames"
    if not lexnames.exists():
        manual = Path("/usr/share/man/man5/lexnames.5WN.gz")
        rows = re.findall(r"^(\d\d)\s+(\w+\.\w+)", gzip.decompress(manual.read_bytes()).decode(), re.M)
        category = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}
        lexnames.write_text("".join(f"{n}\t{name}\t{category[name.split('.')[0]]}\n" for n, name in rows))
    if str(view) not in nltk.data.path:
        nltk.data.path.append(str(view))

    class WordNet30(WordNetCorpusReader):  # type: ignore[misc]
        def map_wn(self, version: str = "wordnet") -> None:
            """No mapping: Debian's files are WordNet 3.0, the version nltk would map to."""
            return None

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available": not used
        return WordNet30(str(view), None)


@cache
def frequent_words(limit: int = 8000) -> tuple[str, ...]:
    """Frequent English words (most frequent first), letters only, at least 3 long."""
    import wordfreq

    return tuple(w for w in wordfreq.top_n_list("en", limit) if w.isascii() and w.isalpha() and len(w) >= 3)


@cache
def _pos_words(pos: str) -> tuple[str, ...]:
    """Frequent words that WordNet knows only as ``pos`` (``n`` or ``a``), in base form.

    Requiring every sense to share the part of speech keeps words like "read" or "white" out
    of the noun list, so templated sentences stay grammatical.
    """
    import inflect

    engine = inflect.engine()
    wn = wordnet()
    allowed = {pos, "s"} if pos == "a" else {pos}
    out = []
    for word in frequent_words():
        synsets = wn.synsets(word)
        if not synsets or not all(s.pos() in allowed for s in synsets) or wn.morphy(word, pos) != word:
            continue
        # Proper nouns ("Texas") only appear capitalised among the lemma names.
        if not any(lemma.name() == word for s in synsets for lemma in s.lemmas()):
            continue
        # Plurals WordNet lists as lemmas ("savings", "humans") are not singular nouns.
        if pos == "n" and engine.singular_noun(word):
            continue
        out.append(word)
    return tuple(out)


def _table(name: str) -> Any:
    return yaml.safe_load((TABLES_DIR / name).read_text(encoding="utf-8"))


def _ex(source: str, *answers: str) -> Example:
    return Example(input=source, answers=tuple(dict.fromkeys(answers)))


def gen_sum() -> list[Example]:
    return [_ex(f"{x} {y}", str(x + y)) for x in range(100) for y in range(100)]


def gen_diff() -> list[Example]:
    return [_ex(f"{x} {y}", str(x - y)) for x in range(100) for y in range(x + 1)]


def gen_first_word_letter() -> list[Example]:
    return [_ex(w, w[0]) for w in frequent_words()]


def gen_second_word_letter() -> list[Example]:
    return [_ex(w, w[1]) for w in frequent_words()]


def gen_letters_list() -> list[Example]:
    return [_ex(w, " ".join(w)) for w in frequent_words()]


def gen_num_to_verbal() -> list[Example]:
    from num2words import num2words

    return [_ex(str(n), num2words(n)) for n in range(10000)]


def gen_singular_to_plural() -> list[Example]:
    import inflect

    engine = inflect.engine()
    return [_ex(w, engine.plural_noun(w)) for w in _pos_words("n")]


def gen_rhymes() -> list[Example]:
    import pronouncing

    rank = {w: i for i, w in enumerate(frequent_words())}
    out = []
    for word in frequent_words()[:3000]:
        rhymes = sorted({r for r in pronouncing.rhymes(word) if r in rank}, key=rank.__getitem__)
        if rhymes:
            out.append(_ex(word, *rhymes))
    return out


def _lemma_text(name: str) -> str:
    return name.replace("_", " ")


def gen_antonyms() -> list[Example]:
    wn = wordnet()
    out = []
    for word in frequent_words():
        found = [
            _lemma_text(a.name())
            for s in wn.synsets(word)
            for lemma in s.lemmas()
            if lemma.name() == word
            for a in lemma.antonyms()
        ]
        if found:
            out.append(_ex(word, *found))
    return out


def gen_synonyms() -> list[Example]:
    wn = wordnet()
    out = []
    for word in frequent_words():
        found = [
            _lemma_text(lemma.name())
            for s in wn.synsets(word)[:3]
            for lemma in s.lemmas()
            if lemma.name().lower() != word and "_" not in lemma.name()
        ]
        if found:
            out.append(_ex(word, *found))
    return out


def gen_larger_animal() -> list[Example]:
    sizes: dict[str, float] = _table("animal_sizes.yaml")
    names = sorted(sizes)
    return [
        _ex(f"{a}, {b}", a if sizes[a] > sizes[b] else b)
        for a in names
        for b in names
        if a != b and max(sizes[a], sizes[b]) >= 4 * min(sizes[a], sizes[b])
    ]


def _sentences() -> list[tuple[str, str, str, str, bool, bool]]:
    """(subject, past verb, participle, object, subject plural, object plural) combinations."""
    verbs = _table("verbs.yaml")
    nouns = [w for w in _pos_words("n") if len(w) >= 4][:120]
    rng = rng_for("core-sentences")
    combos = []
    for i in range(3000):
        _base, past, participle = verbs[i % len(verbs)]
        subject, obj = rng.sample(nouns, 2)
        combos.append((subject, past, participle, obj, rng.random() < 0.5, rng.random() < 0.5))
    return combos


def gen_active_to_passive() -> list[Example]:
    import inflect

    engine = inflect.engine()
    out = []
    for subject, past, participle, obj, subject_plural, object_plural in _sentences():
        s = engine.plural_noun(subject) if subject_plural else subject
        o = engine.plural_noun(obj) if object_plural else obj
        be = "were" if object_plural else "was"
        out.append(_ex(f"The {s} {past} the {o}.", f"The {o} {be} {participle} by the {s}."))
    return out


def gen_orthography_starts_with() -> list[Example]:
    adjectives = [w for w in _pos_words("a") if len(w) >= 4][:200]
    rng = rng_for("core-orthography")
    out = []
    for subject, past, _participle, obj, _sp, _op in _sentences():
        adjective = rng.choice(adjectives)
        sentence = f"The {adjective} {subject} {past} the {obj} yesterday."
        words = sentence.rstrip(".").split()
        letter = rng.choice(sorted({w[0].lower() for w in words}))
        answer = " ".join(w for w in words if w[0].lower() == letter)
        out.append(_ex(f"{sentence} [{letter}]", answer))
    return out


GENERATORS: dict[str, Callable[[], list[Example]]] = {
    "sum": gen_sum,
    "diff": gen_diff,
    "first_word_letter": gen_first_word_letter,
    "second_word_letter": gen_second_word_letter,
    "letters_list": gen_letters_list,
    "num_to_verbal": gen_num_to_verbal,
    "singular_to_plural": gen_singular_to_plural,
    "rhymes": gen_rhymes,
    "antonyms": gen_antonyms,
    "synonyms": gen_synonyms,
    "larger_animal": gen_larger_animal,
    "active_to_passive": gen_active_to_passive,
    "orthography_starts_with": gen_orthography_starts_with,
}
"""Generator functions by name (the ``generator`` field of a core task file)."""

NEEDS_WORDNET = {
    "singular_to_plural",
    "antonyms",
    "synonyms",
    "active_to_passive",
    "orthography_starts_with",
}
