"""A small news-wording thesaurus for the lexical search.

MiniLM scores "refused to send troops" far from "ruled out deploying troops", and BM25 cannot
see it at all. Adding the usual newsroom paraphrases of a question's words to the BM25 query
(never to the dense one) lets exact-wording search find the other outlets' versions of a fact.
"""

from __future__ import annotations

import re

_GROUPS = [
    (
        "refuse",
        "refused",
        "refusing",
        "reject",
        "rejected",
        "rule out",
        "ruled out",
        "decline",
        "declined",
        "rebuff",
        "rebuffed",
        "premature",
        "oppose",
        "opposed",
    ),
    ("send", "sending", "deploy", "deploying", "deployment", "dispatch", "commit"),
    ("troops", "soldiers", "forces", "military personnel", "boots on the ground"),
    ("kill", "killed", "killing", "dead", "died", "death"),
    ("attack", "strike", "struck", "assault", "hit"),
    ("agree", "agreed", "deal", "agreement", "accord"),
    ("ceasefire", "truce", "cease-fire"),
    ("leader", "president", "prime minister", "premier"),
    ("drones", "drone", "unmanned"),
    ("money", "funds", "billion", "million", "worth", "value", "cost"),
    ("says", "said", "stated", "told", "warned", "noted"),
    ("willing", "willingness", "ready", "prepared"),
    ("lead", "leads", "leading", "led", "spearhead", "spearheads", "spearheading", "spearheaded"),
]
_INDEX: dict[str, tuple[str, ...]] = {}
for group in _GROUPS:
    for term in group:
        _INDEX[term] = group


def expand(question: str) -> str:
    """The question plus paraphrases of any of its words found in the thesaurus."""
    words = re.findall(r"[a-z]+(?:-[a-z]+)?", question.lower())
    extra: list[str] = []
    for word in words:
        for term in _INDEX.get(word, ()):
            if term not in words and term not in extra:
                extra.append(term)
    return question if not extra else f"{question} {' '.join(extra)}"
