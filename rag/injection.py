"""Questions that try to give orders instead of asking about the articles.

The prompt already tells the model that questions and passages are data, but a 1.5B model
follows a confident "SYSTEM OVERRIDE" often enough. So a question that reads as an instruction
to the assistant (override its rules, reveal them, change role, assert a premise and demand
confirmation, or produce something other than an answer) is refused before retrieval and
generation: the model never sees it. Article text is not screened here; it reaches the model
only as quoted passages, and answers drawn from it still pass the support check.
"""

from __future__ import annotations

import re

_PATTERNS = [
    # Overriding the rules or the sources.
    r"\b(ignore|disregard|forget|override|bypass|skip)\b.{0,40}\b(instructions?|rules?|prompts?"
    r"|articles?|sources?|passages?|context|guidelines|restrictions)\b",
    r"\bsystem\s*(override|message|note|prompt)\b",
    r"\b(note|message|instructions?) from (the )?(developers?|admins?|administrators?|openai)\b",
    r"\b(sources?|citations?) (are|is) (no longer|not) (required|needed)\b",
    # Revealing what it was told.
    r"\b(hidden|secret|initial|original|your) (instructions|rules|prompt|system prompt)\b",
    r"\b(api[ -]?keys?|passwords?|credentials|secrets)\b",
    # Changing role.
    r"\byou are now\b",
    r"\b(act|behave|respond) as (if|though|an?|the)\b",
    r"\bpretend (to be|you)\b",
    r"\b(jailbreak|developer mode|DAN)\b",
    r"\breply (only )?with (the word|only)\b",
    # Planting a premise and demanding it be repeated.
    r"\b(assume|suppose|imagine|pretend)\b.{0,80}\b(confirm|state|say|announce|write)\b",
    r"\bstate that\b",
    # Off-task output.
    r"\bwrite (me )?(a|an) (short )?(poem|song|story|essay|joke|limerick|haiku)\b",
    r"\btranslate (your|the) (hidden |system )?(instructions|prompt|rules)\b",
]
_INJECTION_RE = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE)


def looks_like_injection(question: str) -> bool:
    return bool(_INJECTION_RE.search(question))
