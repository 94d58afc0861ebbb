"""The engine behind every way in (HTTP, CLI, evaluation): one object per process.

Heavy parts (store, embedder, llama.cpp model) load on first use and are then reused; nothing
loads at import time, so `import rag` stays cheap and tests can build engines on temp dirs.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path

from rag.answer import countries, stages
from rag.answer.cache import AnswerCache, answer_key
from rag.answer.citations import (
    Snapshot,
    renumber,
    source_spans,
    span_fields,
    strip_markers,
    take_snapshot,
)
from rag.answer.conflicts import Conflict, asks_about_titles, find_conflicts
from rag.answer.grounding import DraftChecker, Grounder, Judge, SentenceCheck, with_markers
from rag.config import Settings
from rag.errors import BadQuestion, Cancelled, EmptyStore, StoreUnavailable, UnknownDocuments
from rag.index.datadir import ingest_hint, store_location
from rag.index.embedding import Embedder
from rag.index.store import Store
from rag.ingest.loading import Article
from rag.ingest.pipeline import Ingested, IngestReport, ingest_article, ingest_paths
from rag.llm.generation import (
    StageTimes,
    TextGenerator,
    load_generator,
    timed_steps,
    timing_stages,
)
from rag.llm.model_files import PRESETS, local_model_file, resolve_model
from rag.llm.prompts import PromptSet
from rag.llm.remote_llm import RemoteGenerator, estimate_tokens, load_remote_generator
from rag.retrieve.context import Passage, assemble_context
from rag.retrieve.question import (
    asks_for_figure,
    asks_for_list,
    asks_for_name,
    gives_figure,
    gives_name,
    part_queries,
    question_parts,
)
from rag.retrieve.retrieval import RetrievalResult, merge_results, retrieve
from rag.schemas import Answer, SearchResponse, SearchResult, Timings, text_problem

ABSTAIN_TEXT = "The articles don't say."
# A draft the model declined gets a second (`Engine.second_draft`): the strict system turn
# makes it decline some questions the passages answer. A draft whose every sentence the check
# dropped does not: its claims were already wrong, and a second try mostly found other wrong
# claims that passed. Nor does one the judge read as no answer (`not_an_answer`, a near miss).
SECOND_DRAFT_REASONS = frozenset({"model_declined"})


@dataclass
class Prepared:
    """A question retrieved and rendered into messages, waiting for the model."""

    question: str
    q: str
    result: RetrievalResult
    passages: list[Passage]
    messages: list[dict[str, str]]
    started: float
    retrieved: float
    snapshot: Snapshot
    # Where the answer is kept in the answer cache, and the store version it was made from.
    cache_key: str | None = None
    store_version: str = ""
    # Where this answer's time went after retrieval; one per question, so requests sharing
    # the generator never add to each other's.
    times: StageTimes = field(default_factory=StageTimes)
    # A second draft (`Engine.second_draft`): its sentences need the higher support bar.
    second: bool = False


@dataclass
class StreamEvent:
    kind: str  # "sources" | "token" | "redraft" | "sentence" | "answer"
    text: str = ""
    passages: list[Passage] = field(default_factory=list)
    answer: Answer | None = None
    # A "sentence" event's citations: (number shown in the answer, passage number in sources).
    cited: list[tuple[int, int]] = field(default_factory=list)


class Engine:
    def __init__(self, settings: Settings, show_progress: bool = False) -> None:
        self.settings = settings
        self.show_progress = show_progress
        self._load_lock = threading.Lock()
        self._write_lock = threading.Lock()

    # ---- components, loaded once --------------------------------------------------------------

    @cached_property
    def store(self) -> Store:
        from rag.ingest.reindex import check_embedder

        store = Store(
            self.settings.data_dir,
            chroma_url=self.settings.chroma_url,
            database_url=self.settings.database_url,
        )
        check_embedder(store, self.settings)
        return store

    @cached_property
    def embedder(self) -> Embedder:
        return Embedder.from_settings(self.settings)

    @cached_property
    def prompts(self) -> PromptSet:
        return PromptSet.load(self.settings.prompts_dir)

    @property
    def generator(self) -> TextGenerator:
        # cached_property is not thread-safe; two first requests must not load two models.
        with self._load_lock:
            if "_generator" not in self.__dict__ and self.settings.llm_url:
                self.__dict__["_generator"] = self._remote_generator()
            if "_generator" not in self.__dict__:
                path = resolve_model(
                    self.settings.model, self.settings.cache_dir, show_progress=self.show_progress
                )
                self.__dict__["_generator"] = load_generator(
                    path,
                    n_ctx=self.settings.n_ctx,
                    n_threads=self.settings.n_threads,
                    state_dir=self.settings.cache_dir / "kv",
                )
            return self.__dict__["_generator"]

    def _remote_generator(self) -> RemoteGenerator:
        s = self.settings
        key = s.llm_api_key.get_secret_value() if s.llm_api_key else None
        return load_remote_generator(
            s.llm_url or "",
            key,
            s.llm_model,
            s.llm_timeout,
            tokenizer_gguf=local_model_file(s.model, s.cache_dir),
        )

    @property
    def model_name(self) -> str:
        if self.settings.llm_url:
            return self.generator.name  # NEWSDESK_LLM_MODEL, else the server's first model
        model = self.settings.model
        return model if model in PRESETS else Path(model).name

    def warm_up(self) -> None:
        """Load everything and evaluate the fixed system prompt once, so its KV is cached.

        The model loads and evaluates on a second thread while the embedder loads on this one:
        llama.cpp releases the GIL, so cold start costs about the slower of the two."""
        _ = self.store, self.prompts
        with ThreadPoolExecutor(1, thread_name_prefix="newsdesk-warm") as pool:
            model = pool.submit(
                lambda: self.generator.chat(self.prompts.messages("Say OK.", []), max_tokens=1)
            )
            self.embedder.encode_one("warm up")
            countries.load()
            model.result()

    # ---- operations -----------------------------------------------------------------------------

    def _check_writable(self) -> None:
        """A vector store lost while running (its folder deleted) fails writes deep inside
        Chroma ("readonly database"): refuse first, naming the fix (503 over HTTP)."""
        from rag.ingest.reindex import vector_store_problem

        problem = vector_store_problem(self.store)
        if problem:
            raise StoreUnavailable(problem)

    def ingest(self, paths: list[Path]) -> IngestReport:
        with self._write_lock:
            self._check_writable()
            return ingest_paths(
                paths, self.store, self.embedder, self.settings, show_progress=self.show_progress
            )

    def add_document(
        self,
        article: Article,
        source_path: str | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> Ingested:
        """Index one article: its status, chunks written and the replaced version's hash.

        Writes are serialised: two uploads of one id must not interleave their swaps. Readers
        do not wait for this lock; `progress(done, total)` follows the embedding."""
        with self._write_lock:
            self._check_writable()
            return ingest_article(
                article, self.store, self.embedder, self.settings, source_path, progress=progress
            )

    def delete_document(self, doc_id: str) -> bool:
        with self._write_lock:
            self._check_writable()
            return self.store.delete_document(doc_id)

    def check_question(self, question: str) -> str:
        q = question.strip()
        if not q:
            raise BadQuestion("the question is empty: ask something about the articles")
        problem = text_problem(question)
        if problem:
            raise BadQuestion(f"the question {problem}")
        if len(question) > self.settings.max_question_chars:
            raise BadQuestion(
                f"the question is {len(question)} characters long; the limit is "
                f"{self.settings.max_question_chars}"
            )
        return q

    def ensure_corpus(self) -> None:
        if self.store.count_chunks() == 0:
            raise EmptyStore(
                f"no articles in the store at {store_location(self.settings)}: "
                f"{ingest_hint(self.settings)}"
            )

    def scope(
        self, doc_ids: list[str] | None = None, outlets: list[str] | None = None
    ) -> list[str] | None:
        """The doc_ids a filter allows (None: everything); naming nothing that exists is an error,
        so a typo in a filter never looks like "the articles don't say"."""
        if not doc_ids and not outlets:
            return None
        known = {d.doc_id: d for d in self.store.list_documents()}
        allowed = set(known)
        if doc_ids:
            wanted: set[str] = set()
            for given in doc_ids:
                # An exact id, or a prefix that names one document ("002" for "002_e7c7…").
                matches = [given] if given in known else [d for d in known if d.startswith(given)]
                if len(matches) != 1:
                    problem = "matches several documents" if matches else "matches no document"
                    raise UnknownDocuments(
                        f"document id {given!r} {problem}; known ids: "
                        f"{', '.join(sorted(known)) or 'none'}"
                    )
                wanted.add(matches[0])
            allowed &= wanted
        if outlets:
            by_outlet = set(self.store.doc_ids_for_outlets(outlets))
            if not by_outlet:
                names = sorted({d.outlet for d in known.values() if d.outlet})
                raise UnknownDocuments(
                    f"no article from outlet {', '.join(outlets)}; known outlets: "
                    f"{', '.join(names) or 'none'}"
                )
            allowed &= by_outlet
        if not allowed:
            raise UnknownDocuments("no article matches both the document and outlet filters")
        return sorted(allowed)

    def retrieve(self, question: str, doc_ids: list[str] | None = None) -> RetrievalResult:
        """Hits for the whole question and, when it has several parts ("where did X happen,
        and how old was he?"), for each part, interleaved so every part reaches the context."""
        parts = part_queries(question) if self.settings.question_shape else []
        results = [self._retrieve_one(p, doc_ids) for p in [question, *parts]]
        return merge_results(results)

    def _retrieve_one(self, question: str, doc_ids: list[str] | None) -> RetrievalResult:
        return retrieve(
            question,
            self.store,
            self.embedder,
            mode=self.settings.retrieval_mode,
            doc_ids=doc_ids,
            feedback=self.settings.feedback,
            weights=(
                self.settings.dense_weight,
                self.settings.lexical_weight,
                self.settings.chunk_weight,
            ),
            feedback_docs=self.settings.feedback_docs,
        )

    def count_tokens(self, text: str) -> int:
        return self.generator.count_tokens(text)

    def context(self, result: RetrievalResult, question: str = "") -> list[Passage]:
        """The passages the model reads: a base budget, half again for each further part of
        the question and for a question asking for several items, which need more evidence."""
        scale = 1.0
        if self.settings.question_shape:
            scale += 0.5 * len(question_parts(question)[1:]) + 0.5 * asks_for_list(question)
        scale = min(scale, self.settings.max_context_scale)
        most, s = round(self.settings.max_context_sentences * scale), self.settings
        # Everything else the prompts hold is counted first; passages get what is left of n_ctx.
        room = self.prompts.passage_room(question, self.count_tokens, s.n_ctx, s.max_tokens, most)
        if room < 0:
            raise BadQuestion(
                f"the question is {self.count_tokens(question)} tokens long, too long for the "
                f"model's {s.n_ctx}-token context with the rules and the answer: shorten it"
            )
        return assemble_context(
            result.hits,
            self.store,
            self.count_tokens,
            budget_tokens=round(s.context_tokens * scale),
            max_sentences=most,
            dedup=s.dedup,
            header_tokens=lambda doc: self.prompts.header_tokens(
                doc.outlet, doc.title, self.count_tokens
            ),
            limit_tokens=room,
            # A list is often in the sentence after the one announcing it ("…three shows
            # hosted by three DJs." then the names): each hit brings the next sentence.
            forward=s.question_shape and s.list_forward and asks_for_list(question),
            fill_gaps=s.fill_gaps,
        )

    def render_passages(self, passages: list[Passage]) -> list[str]:
        return [
            self.prompts.render_passage(i, p.document.outlet, p.document.title, p.text)
            for i, p in enumerate(passages, start=1)
        ]

    def search(
        self,
        query: str,
        limit: int = 8,
        doc_ids: list[str] | None = None,
        outlets: list[str] | None = None,
    ) -> SearchResponse:
        """Ranked passages with offsets and no generation, so the model is never loaded here."""
        q = self.check_question(query)
        self.ensure_corpus()
        scope = self.scope(doc_ids, outlets)
        _ = self.embedder
        started = time.perf_counter()
        with self.store.reading():
            result = self.retrieve(q, scope)
            passages = assemble_context(
                result.hits,
                self.store,
                self._search_tokens,
                budget_tokens=100 * limit,
                max_sentences=limit,
                dedup=self.settings.dedup,
            )[:limit]
            snapshot = take_snapshot(passages, self.store)
        elapsed = (time.perf_counter() - started) * 1000
        results = [
            SearchResult(
                rank=i,
                **_as_text(span_fields(p.document, p.start, p.end, snapshot)),
                score=round(p.score, 6),
                similarity=round(p.dense, 6),
                also_in=source_spans(p, snapshot),
            )
            for i, p in enumerate(passages, start=1)
        ]
        return SearchResponse(query=query, results=results, retrieve_ms=round(elapsed, 2))

    def _search_tokens(self, text: str) -> int:
        # The model's tokenizer when it is loaded anyway; otherwise a words-based estimate.
        if "_generator" in self.__dict__:
            return self.count_tokens(text)
        return estimate_tokens(text)

    def prepare(
        self,
        question: str,
        doc_ids: list[str] | None = None,
        outlets: list[str] | None = None,
    ) -> Prepared | Answer:
        """Everything before generation; an `Answer` back means retrieval already abstained,
        or the question was answered before against the same articles (the answer cache)."""
        q = self.check_question(question)
        self.ensure_corpus()
        scope = self.scope(doc_ids, outlets)
        started = time.perf_counter()
        key, version = None, ""
        if self.settings.answer_cache > 0:
            version = self.store.version()
            key = answer_key(
                q, doc_ids, outlets, self.model_name, self.settings.model_dump_json(), version
            )
            hit = self.answer_cache.get(key)
            if hit is not None:
                hit.question, hit.cached = question, True
                total = round((time.perf_counter() - started) * 1000, 3)
                hit.timings = Timings(retrieve_ms=0.0, generate_ms=0.0, total_ms=total)
                return hit
        _ = self.embedder, self.generator  # models load once, outside the timed path
        started = time.perf_counter()
        # One read of the store per question: a document replaced meanwhile is seen whole,
        # either the old version or the new one.
        with self.store.reading():
            result = self.retrieve(q, scope)
            if not result.hits or result.best_dense < self.settings.min_relevance:
                now = time.perf_counter()
                answer = self._abstain(question, "no_relevant_passages", result, started, now)
                self._keep(key, version, answer)
                return answer
            passages = self.context(result, q)
            snapshot = take_snapshot(passages, self.store, sentences=asks_about_titles(q))
        messages = self.prompts.messages(q, self.render_passages(passages))
        return Prepared(
            question,
            q,
            result,
            passages,
            messages,
            started,
            time.perf_counter(),
            snapshot,
            key,
            version,
        )

    @cached_property
    def answer_cache(self) -> AnswerCache:
        return AnswerCache(self.settings.answer_cache)

    def remember(self, prepared: Prepared, answer: Answer) -> None:
        """Keep a finished answer for the next time its question is asked."""
        self._keep(prepared.cache_key, prepared.store_version, answer)

    def _keep(self, key: str | None, version: str, answer: Answer) -> None:
        # Only if no document changed while it was made: it belongs to the version it read.
        if key is not None and self.store.version() == version:
            self.answer_cache.put(key, answer)

    def ask(
        self,
        question: str,
        doc_ids: list[str] | None = None,
        outlets: list[str] | None = None,
        cancel: threading.Event | None = None,
    ) -> Answer:
        """The checked answer; setting `cancel` (a client went away) raises `Cancelled`."""
        prepared = self.prepare(question, doc_ids, outlets)
        if isinstance(prepared, Answer):
            return prepared
        if cancel is None:
            with self._answer_turn():
                answer = self._drafted(prepared)
                second = self.second_draft(prepared, answer)
                if second is not None:
                    self._hold_checks(prepared)
                    answer = self._drafted(second)
            self.remember(prepared, answer)
            return answer
        for event in self.generate(prepared, cancel):
            if event.answer is not None:
                return event.answer
        raise Cancelled("the request was cancelled before the answer was complete")

    def ask_stream(
        self,
        question: str,
        doc_ids: list[str] | None = None,
        outlets: list[str] | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[StreamEvent]:
        """Sources first, then the draft as it is decoded, then the checked answer.

        The draft streams unchecked; the final answer is the verified one, so a client shows the
        tokens for speed and replaces them with the answer event's text."""
        prepared = self.prepare(question, doc_ids, outlets)
        if isinstance(prepared, Answer):
            yield StreamEvent("answer", answer=prepared)
            return
        yield StreamEvent("sources", passages=prepared.passages)
        yield from self.generate(prepared, cancel)

    def generate(
        self, prepared: Prepared, cancel: threading.Event | None = None
    ) -> Iterator[StreamEvent]:
        """Token events as the draft is decoded, a sentence event for each draft sentence that
        passes the check (checked as soon as it is complete, while the model goes on), then
        the checked answer (none if cancelled).

        Sentence events are what the answer will say, numbered as it will be: a sentence is
        shown once it and those before it pass the check, and once they answer the question
        (`DraftChecker`). The answer event is the whole answer with its citations."""
        # A model server answers one request at a time: a judge request sent while its own
        # stream is unread would wait behind it, so there sentences are checked at the end.
        live = getattr(self.generator, "judges_mid_stream", True)
        with self._answer_turn():
            answer = yield from self._draft_events(prepared, cancel, live)
            if answer is None:
                return
            second = self.second_draft(prepared, answer)
            if second is not None:
                yield StreamEvent("redraft", text=answer.abstain_reason or "")
                self._hold_checks(prepared)
                # Checked once it is written: its system turn is not the judge's, so a reading
                # between two of its tokens would evaluate the passages again each time.
                answer = yield from self._draft_events(second, cancel, live=False)
                if answer is None:
                    return
        self.remember(prepared, answer)
        yield StreamEvent("answer", answer=answer)

    def _hold_checks(self, prepared: Prepared) -> None:
        """Keep the checks' evaluated passages over a second draft, where the model can."""
        hold = getattr(self.generator, "hold", None)
        if hold is not None:
            rendered = self.render_passages(prepared.passages)
            hold(self.prompts.relevance_messages(rendered, prepared.q, ""))

    def _drafted(self, prepared: Prepared) -> Answer:
        """One draft, written whole and then checked."""
        with timing_stages(prepared.times):
            generation = self.generator.chat(prepared.messages, max_tokens=self.settings.max_tokens)
        return self.finish(prepared, generation.text, time.perf_counter())

    def _draft_events(
        self, prepared: Prepared, cancel: threading.Event | None, live: bool
    ) -> Generator[StreamEvent, None, Answer | None]:
        """One draft's token and sentence events; returns its checked answer (None if
        cancelled)."""
        pieces: list[str] = []
        checker = self.draft_checker(prepared)
        numbers: dict[int, int] = {}
        stream = self.generator.stream(
            prepared.messages, max_tokens=self.settings.max_tokens, cancel=cancel
        )
        for piece in timed_steps(stream, prepared.times):
            pieces.append(piece)
            yield StreamEvent("token", text=piece)
            if live:
                for check in self._feed(prepared, checker, "".join(pieces)):
                    yield _sentence_event(check, numbers)
        if cancel is not None and cancel.is_set():
            return None
        draft = "".join(pieces)
        for check in self._feed(prepared, checker, draft, final=True):
            yield _sentence_event(check, numbers)
        return self.finish(prepared, draft, time.perf_counter(), checker)

    def second_draft(self, prepared: Prepared, answer: Answer) -> Prepared | None:
        """The question once more under the plain system turn, when the model declined the
        first draft. Only a first draft gets a second; the passages and the checks stay the
        same."""
        if (
            not self.settings.second_draft
            or not self.prompts.second_system
            or prepared.second
            or answer.abstain_reason not in SECOND_DRAFT_REASONS
        ):
            return None
        messages = self.prompts.second_messages(prepared.q, self.render_passages(prepared.passages))
        return replace(prepared, messages=messages, second=True)

    def _answer_turn(self) -> contextlib.AbstractContextManager[object]:
        """The generator's turn for one whole answer, where it keeps one (`answer_turn`)."""
        turn = getattr(self.generator, "answer_turn", None)
        return turn() if turn is not None else contextlib.nullcontext()

    def _feed(
        self, prepared: Prepared, checker: DraftChecker, draft: str, final: bool = False
    ) -> list[SentenceCheck]:
        """`checker.feed`, its time (the judge's readings included) counted as the check's."""
        started = time.perf_counter()
        checks = checker.feed(draft, final=final)
        prepared.times.add("check_ms", time.perf_counter() - started)
        return checks

    def draft_checker(self, prepared: Prepared) -> DraftChecker:
        """The sentence-by-sentence check of one question's draft (wording only, without
        the judge, when verification is off: then every sentence passes as written)."""
        if not self.settings.verify:
            return DraftChecker(len(prepared.passages))
        grounder = Grounder(
            prepared.passages,
            self.embedder.encode,
            prepared.q,
            judge=self.judge(prepared),
            threshold=max(
                self.settings.support_threshold,
                self.settings.second_draft_threshold if prepared.second else 0.0,
            ),
            role_check=self.settings.role_check,
            hedge_check=self.settings.hedge_check,
            articles=prepared.snapshot.texts,
        )

        def answers(text: str) -> bool:
            return self.gives_what_was_asked(prepared.q, text) and self.answers_question(
                prepared, text
            )

        return DraftChecker(len(prepared.passages), grounder, answers)

    def judge(self, prepared: Prepared) -> Judge:
        """The support judge for one question: each claim is asked over the same passages as
        the draft, which are still in llama.cpp's cache, without the user's question (which
        may plant a premise or give orders)."""

        rendered = self.render_passages(prepared.passages)

        def run(items: list[tuple[str, list[int]]], quotes: dict[int, str]) -> list[float] | None:
            return self._p_yes(self.prompts.judge_prompts(rendered, items, quotes))

        return run

    def gives_what_was_asked(self, question: str, text: str) -> bool:
        """Whether an answer has the form its question asks for; read from the question's
        grammar alone, so it costs nothing and cannot be talked round."""
        answer = strip_markers(text)
        if self.settings.figure_check and asks_for_figure(question):
            return gives_figure(question, answer)
        if self.settings.name_check and asks_for_name(question):
            return gives_name(question, answer)
        return True

    def answers_question(self, prepared: Prepared, text: str) -> bool:
        """Whether the checked answer answers the question at all, read like the support
        judge; True when the model gives no probabilities to read."""
        ask = self.prompts.relevance_messages(
            self.render_passages(prepared.passages), prepared.q, strip_markers(text).strip()
        )
        scores = self._p_yes([ask])
        return scores is None or scores[0] >= self.settings.answer_threshold

    def _p_yes(self, asks: list[list[dict[str, str]]]) -> list[float] | None:
        # A generator without the judge (a scripted stand-in) reads as a remote one.
        judge = getattr(self.generator, "judge", None)
        return judge(asks) if judge else None

    def finish(
        self,
        prepared: Prepared,
        draft: str,
        generated: float,
        checker: DraftChecker | None = None,
    ) -> Answer:
        """Check the draft against its passages: citations, support, conflicts. `checker`
        holds the sentences a stream has already checked; the rest are checked here. Each
        step is a stage of `rag.answer.stages`, testable alone."""
        passages, snapshot = prepared.passages, prepared.snapshot
        started = time.perf_counter()
        checked = stages.check(draft, checker or self.draft_checker(prepared))
        conflicts = self.conflicts(prepared.q, passages, snapshot)
        decided = stages.decide(checked, conflicts)
        if isinstance(decided, stages.Decline):
            prepared.times.add("check_ms", time.perf_counter() - started)
            return self._decline(prepared, decided, generated)
        answer = stages.add_conflicts(decided, conflicts, passages, snapshot)
        cited = stages.cite(answer, passages, snapshot)
        prepared.times.add("check_ms", time.perf_counter() - started)
        return self._answer(prepared, cited, generated)

    def conflicts(
        self, question: str, passages: list[Passage], snapshot: Snapshot
    ) -> list[Conflict]:
        return find_conflicts(question, passages, snapshot.sentences)

    def _answer(self, prepared: Prepared, cited: stages.CitedAnswer, generated: float) -> Answer:
        return Answer(
            question=prepared.question,
            answer=cited.text,
            answerable=True,
            citations=cited.citations,
            timings=_timings(prepared.started, prepared.retrieved, generated, prepared.times),
            model=self.model_name,
            best_score=round(prepared.result.best_dense, 6),
            dropped=cited.dropped,
            conflicts=cited.conflicts,
            sentences=cited.sentences,
        )

    def _decline(self, prepared: Prepared, decline: stages.Decline, generated: float) -> Answer:
        answer = self._abstain(
            prepared.question,
            decline.reason,
            prepared.result,
            prepared.started,
            prepared.retrieved,
            generated,
            prepared.times,
        )
        answer.dropped = list(decline.dropped)
        return answer

    def _abstain(
        self,
        question: str,
        reason: str,
        result: RetrievalResult | None,
        started: float,
        retrieved: float,
        generated: float | None = None,
        times: StageTimes | None = None,
    ) -> Answer:
        return Answer(
            question=question,
            answer=ABSTAIN_TEXT,
            answerable=False,
            citations=[],
            timings=_timings(started, retrieved, generated or retrieved, times),
            model=self.model_name,
            abstain_reason=reason,  # type: ignore[arg-type]
            best_score=round(result.best_dense, 6) if result else None,
        )


def _sentence_event(check: SentenceCheck, numbers: dict[int, int]) -> StreamEvent:
    """A checked sentence numbered as the final answer will number it: in order of first
    appearance among the sentences shown so far."""
    for n in check.cited:
        numbers.setdefault(n, len(numbers) + 1)
    text = renumber(with_markers(check), numbers)
    return StreamEvent("sentence", text=text, cited=[(numbers[n], n) for n in check.cited])


def _as_text(fields: dict[str, object]) -> dict[str, object]:
    # Search results name the quoted span `text` (the field predates citations' `quote`).
    fields["text"] = fields.pop("quote")
    return fields


def _timings(
    started: float, retrieved: float, generated: float, times: StageTimes | None = None
) -> Timings:
    now = time.perf_counter()
    stages = times or StageTimes()
    return Timings(
        retrieve_ms=round((retrieved - started) * 1000, 2),
        generate_ms=round((generated - retrieved) * 1000, 2),
        total_ms=round((now - started) * 1000, 2),
        prompt_ms=_ms(stages.prompt_ms),
        draft_ms=_ms(stages.draft_ms),
        check_ms=_ms(stages.check_ms),
    )


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value, 2)
