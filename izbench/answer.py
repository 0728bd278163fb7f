"""What the metrics read of a prediction, and when a generation has produced all of it.

Upstream Instruction Induction normalises a prediction by replacing `` and `` and the
``Sentence 1:``/``Sentence 2:`` labels, stripping, keeping the first line and cutting at the first
``.``. So once the (relabelled, left-stripped) first line holds a full stop, or is ended by a
newline, nothing a model writes after it can change a score: decoding may stop there. One
catch, found by the property test: a line ending in spaces keeps them when text follows the
newline but loses them (to ``strip``) when nothing does, so such a line is not complete until
the generation ends. Both the metrics and the local backend's ``answer`` stop rule use these
functions, so they cannot drift apart.
"""

from __future__ import annotations

_REPLACEMENTS = ((" and ", " "), ("Sentence 1:", " "), ("Sentence 2:", " "))
"""None of these patterns holds a newline or a full stop, which is what makes stopping exact."""


def relabel(text: str) -> str:
    """Upstream's replacements, applied before the first line is taken."""
    for old, new in _REPLACEMENTS:
        text = text.replace(old, new)
    return text


def first_sentence(text: str) -> str:
    """The part of ``text`` the metrics read: first non-empty line, up to its first full stop."""
    return relabel(text).strip().split("\n")[0].split(".")[0]


def answer_complete(text: str) -> bool:
    """True once more output cannot change ``first_sentence`` of ``text`` plus that output."""
    line, newline, _ = relabel(text).lstrip().partition("\n")
    return "." in line or (bool(newline) and line == line.rstrip())
