"""Turn ranked sentences into the few numbered passages the model sees.

A small model on two CPU cores pays about 25 ms per prompt token, so context is spent carefully:
near-duplicate sentences (three outlets rewriting one BBC story) take one slot and remember the
other articles that carry them (`also_in`), a sentence that leans on its predecessor brings it
along, and everything stops at a token budget measured with the generating model's tokenizer.
Each passage is a run of whole sentences of one article, so a citation maps to an exact span.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from rag.index.documents import DocumentRecord, Unit
from rag.index.store import Store
from rag.retrieve.facts import key_facts
from rag.retrieve.retrieval import SentenceHit

# Sentences that start like this lean on the one before them.
_LEANS_BACK = re.compile(
    r"^(he|she|it|they|this|that|these|those|his|her|its|their|there|such|but|however|"
    r"meanwhile|despite|additionally|also|then|the group|the move|the deal)\b",
    re.IGNORECASE,
)


# For a question asking for several items, the hits (in rank order) that bring the sentence
# after them.
FORWARD_LEADS = 3


@dataclass
class AlsoIn:
    doc_id: str
    start: int
    end: int


@dataclass
class Passage:
    document: DocumentRecord
    sentences: list[Unit]
    score: float
    dense: float
    also_in: list[AlsoIn] = field(default_factory=list)
    # Per sentence (unit_id), so a citation narrowed to one sentence keeps only its own twins.
    unit_also: dict[str, list[AlsoIn]] = field(default_factory=dict)

    @property
    def start(self) -> int:
        return self.sentences[0].start

    @property
    def end(self) -> int:
        return self.sentences[-1].end

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)

    @property
    def chunk_id(self) -> str:
        return self.sentences[0].parent_id or f"{self.document.doc_id}#?"

    def window(self, first: int, last: int) -> Passage:
        """Sentences first..last (inclusive) of this passage, with their own also_in only."""
        units = self.sentences[first : last + 1]
        also = [a for u in units for a in self.unit_also.get(u.unit_id, [])]
        return Passage(
            self.document,
            units,
            self.score,
            self.dense,
            _unique(also),
            {u.unit_id: self.unit_also[u.unit_id] for u in units if u.unit_id in self.unit_also},
        )


@dataclass
class _Cluster:
    lead: SentenceHit
    members: list[SentenceHit]


def cluster_near_duplicates(hits: list[SentenceHit], threshold: float) -> list[_Cluster]:
    """Greedy clustering in rank order: a hit joins the first lead from another article that
    means nearly the same (cosine) and that already states every number and name it states.
    The second test keeps "Germany and Italy ruled out troops" apart from "Italy refused to
    send troops": close in meaning, but one adds a fact the other lacks."""
    clusters: list[_Cluster] = []
    facts: dict[str, set[str]] = {}
    for hit in hits:
        hit_facts = facts.setdefault(hit.unit.unit_id, key_facts(hit.unit.text))
        for cluster in clusters:
            lead = cluster.lead
            if (
                lead.unit.doc_id != hit.unit.doc_id
                and float(lead.embedding @ hit.embedding) >= threshold
                and hit_facts <= facts.setdefault(lead.unit.unit_id, key_facts(lead.unit.text))
            ):
                cluster.members.append(hit)
                break
        else:
            clusters.append(_Cluster(hit, []))
    return clusters


def assemble_context(
    hits: list[SentenceHit],
    store: Store,
    count_tokens: Callable[[str], int],
    budget_tokens: int = 320,
    max_sentences: int = 8,
    dedup: bool = True,
    dup_threshold: float = 0.75,
    min_dense: float = 0.0,
    max_per_doc: int = 3,
    candidate_window: int = 16,
    header_tokens: Callable[[DocumentRecord], int] | None = None,
    limit_tokens: int | None = None,
    forward: bool = False,
    fill_gaps: bool = False,
) -> list[Passage]:
    """The passages for `hits`. `budget_tokens` bounds their sentences (a quality setting);
    `limit_tokens`, when given, bounds everything they add to the prompt, each passage's
    `header_tokens` included, so that no metadata can push a prompt past the model's window.
    A group of sentences that does not touch one already taken is charged a header of its own,
    which can only overcount: adjacent groups later share one passage."""
    clusters = (
        cluster_near_duplicates(hits, dup_threshold) if dedup else [_Cluster(h, []) for h in hits]
    )
    chosen: dict[str, tuple[Unit, float, float]] = {}  # unit_id -> (unit, score, dense)
    also: dict[str, list[AlsoIn]] = {}
    spent = 0
    total = 0  # spent plus headers, against limit_tokens
    taken: dict[str, set[int]] = {}  # doc_id -> sentence indexes taken
    headers: dict[str, int] = {}
    leads: dict[str, int] = {}  # doc_id -> leads taken
    neighbours: dict[str, list[Unit]] = {}
    # First pass caps leads per article so one long article cannot crowd out the others that
    # report the fact differently; the second pass spends what budget is left in rank order.
    for cap in (max_per_doc, max_sentences):
        for cluster in clusters[:candidate_window]:
            if sum(leads.values()) >= max_sentences:
                break
            lead = cluster.lead
            doc_id = lead.unit.doc_id
            if lead.dense < min_dense or lead.unit.unit_id in chosen or leads.get(doc_id, 0) >= cap:
                continue
            doc_units = neighbours.setdefault(doc_id, store.document_units("sentences", doc_id))
            # Only the best few hits read on, so the sentences after them cannot crowd out
            # the other hits a list is gathered from.
            reads_on = forward and sum(leads.values()) < FORWARD_LEADS
            group = _with_neighbours(lead.unit, doc_units, reads_on)
            group = [u for u in group if u.unit_id not in chosen]
            cost = sum(count_tokens(u.text) + 1 for u in group)
            near = taken.setdefault(doc_id, set())
            header = 0
            if header_tokens is not None and not any(
                u.index - 1 in near or u.index + 1 in near for u in group
            ):
                if doc_id not in headers:
                    doc = store.get_document(doc_id)
                    headers[doc_id] = header_tokens(doc) if doc else 0
                header = headers[doc_id]
            if spent + cost > budget_tokens or (
                limit_tokens is not None and total + cost + header > limit_tokens
            ):
                continue
            spent += cost
            total += cost + header
            near.update(u.index for u in group)
            leads[doc_id] = leads.get(doc_id, 0) + 1
            for u in group:
                chosen[u.unit_id] = (u, lead.score, lead.dense)
            also[lead.unit.unit_id] = [
                AlsoIn(m.unit.doc_id, m.unit.start, m.unit.end) for m in cluster.members
            ]

    if fill_gaps:
        room = budget_tokens - spent
        if limit_tokens is not None:
            room = min(room, limit_tokens - total)
        _fill_gaps(chosen, neighbours, count_tokens, room)

    # Contiguous sentences of one article become one passage; passages keep rank order.
    by_doc: dict[str, list[tuple[Unit, float, float]]] = {}
    for unit, score, dense in chosen.values():
        by_doc.setdefault(unit.doc_id, []).append((unit, score, dense))
    docs = store.get_documents(by_doc)
    passages: list[Passage] = []
    for doc_id, items in by_doc.items():
        items.sort(key=lambda t: t[0].index)
        run: list[tuple[Unit, float, float]] = []
        for item in items:
            if run and item[0].index != run[-1][0].index + 1:
                passages.append(_passage(docs[doc_id], run, also))
                run = []
            run.append(item)
        if run:
            passages.append(_passage(docs[doc_id], run, also))
    passages.sort(key=lambda p: (-p.score, p.document.doc_id, p.start))
    return passages


def _fill_gaps(
    chosen: dict[str, tuple[Unit, float, float]],
    doc_units: dict[str, list[Unit]],
    count_tokens: Callable[[str], int],
    room: int,
) -> None:
    """Take the one sentence between two taken sentences of an article, best-ranked first,
    while `room` lasts. Both its neighbours were chosen for the question, so it is most likely
    on the same point (the clause that names who leads what), and it joins two passages into
    one, so the reader sees continuous text and the prompt carries one header fewer."""
    gaps: list[tuple[float, Unit, float, float]] = []
    for units in doc_units.values():
        taken = {u.index: chosen[u.unit_id] for u in units if u.unit_id in chosen}
        for i in taken:
            after = taken.get(i + 2)
            if after is None or i + 1 in taken or i + 1 >= len(units):
                continue
            before = taken[i]
            score, dense = min(before[1], after[1]), min(before[2], after[2])
            gaps.append((max(before[1], after[1]), units[i + 1], score, dense))
    for _, unit, score, dense in sorted(gaps, key=lambda g: -g[0]):
        cost = count_tokens(unit.text) + 1
        if cost <= room:
            room -= cost
            chosen[unit.unit_id] = (unit, score, dense)


def _with_neighbours(unit: Unit, doc_units: list[Unit], forward: bool = False) -> list[Unit]:
    """The sentence, plus the one before if it leans on it, plus the next if that leans back
    (or, with `forward`, whatever it says)."""
    group = [unit]
    i = unit.index
    if _LEANS_BACK.match(unit.text) and i > 0:
        group.insert(0, doc_units[i - 1])
    if i + 1 < len(doc_units) and (forward or _LEANS_BACK.match(doc_units[i + 1].text)):
        group.append(doc_units[i + 1])  # "He likened it to..." completes the hit
    return group


def _passage(
    doc: DocumentRecord, run: list[tuple[Unit, float, float]], also: dict[str, list[AlsoIn]]
) -> Passage:
    units = [u for u, _, _ in run]
    return Passage(
        document=doc,
        sentences=units,
        score=max(s for _, s, _ in run),
        dense=max(d for _, _, d in run),
        also_in=_unique([a for u in units for a in also.get(u.unit_id, [])]),
        unit_also={u.unit_id: also[u.unit_id] for u in units if also.get(u.unit_id)},
    )


def _unique(also: list[AlsoIn]) -> list[AlsoIn]:
    """One entry per span: two sentences of a passage can share a twin in another article."""
    return list({(a.doc_id, a.start): a for a in also}.values())
