"""The names a country goes by, so the names-and-numbers filter finds "France" in a passage that
says "French" and "the United States" in one that says "American".

Reporters name a country by its adjective as often as by its name ("French President…",
"British troops"), and a sentence that restates it the other way round names nothing the
passage lacks. The names, adjectives (demonyms) and other spellings come from the
`countryinfo` package's data for every country, not from a list of the countries any
article mentions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from countryinfo import all_countries

_WORD_RE = re.compile(r"[^\W\d_]+")


@dataclass(frozen=True)
class _Country:
    name: str  # "France"
    demonym: str  # "French"
    phrases: frozenset[str]  # how it is written in running text: "France", "French"
    capital: str  # "Paris": stands for the country ("Moscow denied…"), never the reverse
    codes: frozenset[str]  # capitals that stand for it: "UK", "US"
    forms: frozenset[str]  # every lower-cased word of either
    population: int


def _initials(phrase: str) -> str:
    return "".join(w[0] for w in phrase.split() if w[:1].isupper())


def _country(info: object) -> _Country | None:
    try:
        name = info.name()  # type: ignore[attr-defined]
        iso = info.iso()  # type: ignore[attr-defined]
        demonym = info.demonym()  # type: ignore[attr-defined]
        spellings = [name, demonym, *info.alt_spellings()]  # type: ignore[attr-defined]
        population = int(info.population() or 0)  # type: ignore[attr-defined]
        capital = info.capital() or ""  # type: ignore[attr-defined]
    except Exception:  # a country the package holds too little about
        return None
    spellings = [s.strip() for s in spellings if isinstance(s, str) and s.strip()]
    # Running-text names have a lower-case letter; codes are capitals. The ISO codes only
    # count when they are a name's initials ("US" for "United States"): "IT", "PM" and "TV"
    # are ISO codes of countries no news story means by them.
    # Official long forms are left out: "…Great Britain and Northern Ireland" would let a
    # passage about one country stand for another.
    phrases = {
        s
        for s in spellings
        if any(ch.islower() for ch in s) and len(s.split()) <= 4 and " and " not in s
    }
    iso_codes = {str(v).upper() for v in (iso or {}).values() if isinstance(v, str)}
    codes = {s for s in spellings if s.isupper() and s.isalpha() and len(s) >= 2}
    initials = {_initials(p) for p in phrases if len(p.split()) > 1}
    codes = {c for c in codes if c not in iso_codes or c in initials}
    if not phrases:
        return None
    forms = {w.lower() for p in phrases for w in _WORD_RE.findall(p) if w[0].isupper()}
    forms |= {c.lower() for c in codes}
    capital = capital.strip() if isinstance(capital, str) else ""
    demonym = demonym if isinstance(demonym, str) else ""
    return _Country(
        name, demonym, frozenset(phrases), capital, frozenset(codes), frozenset(forms), population
    )


@lru_cache(maxsize=1)
def _index() -> tuple[re.Pattern[str], dict[str, _Country]]:
    """One pattern for every way of naming any country, and each match's forms."""
    by_text: dict[str, _Country] = {}
    for info in all_countries():
        country = _country(info)
        if country is None:
            continue
        # A word several countries share ("French" for France and its overseas lands,
        # "Dominican") is taken to mean the most populous of them, as news mostly means.
        for text in country.phrases | country.codes | ({country.capital} - {""}):
            if text not in by_text or by_text[text].population < country.population:
                by_text[text] = country
    alternatives = sorted(by_text, key=len, reverse=True)
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, alternatives)) + r")(?!\w)")
    return pattern, by_text


def load() -> None:
    """Build the index now (about 0.1 s), while a process starts, rather than inside the
    first answer that checks a country's other names."""
    _index()


@lru_cache(maxsize=2048)
def country_forms(text: str) -> frozenset[str]:
    """Every lower-cased word by which the countries `text` names may be called: for a
    passage saying "French", {"france", "french", "republic", …}. A capital names its country
    ("from Beijing": China), but a country does not name its capital: the city is the more
    precise claim. Matching is case-sensitive, as news writes country names: "turkey" the
    bird and "us" the pronoun name nothing."""
    pattern, by_text = _index()
    found: set[str] = set()
    for match in pattern.finditer(text):
        found |= by_text[match.group(0)].forms
    return frozenset(found)


def in_place_of(written: str, other: str) -> str | None:
    """`other`'s country written the way `written` is, when one of the two is an adjective
    and the other is not: in place of "Ukrainian" Russia is "Russian", in place of "Ukraine"
    "Russian" is "Russia". So "Russia destroyed 84 Ukrainian drones" swapped reads "Ukraine
    destroyed 84 Russian drones", a sentence a judge can weigh, not "Ukrainian destroyed 84
    Russia drones". None when `other` may stand as it is written, or either is no country."""
    _, by_text = _index()
    mine, theirs = by_text.get(written), by_text.get(other)
    if mine is None or theirs is None or mine == theirs:
        return None
    # A capital stays a city: "Paris" swapped with "Ukraine" is not "France".
    if written == mine.capital or other == theirs.capital:
        return None
    adjective, theirs_adjective = written == mine.demonym, other == theirs.demonym
    if adjective == theirs_adjective:
        return None
    return theirs.demonym if adjective else theirs.name
