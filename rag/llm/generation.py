"""The one guarded place where llama.cpp runs.

A `Llama` object is not thread-safe, so every call holds the generator's lock for the whole
generation (streams included), as llama-cpp-python's own server does. The thread that runs a
stream may ask the support judge between two of its tokens (to check a sentence as soon as it
is complete): the lock lets that thread in again, and the draft's cache is put back afterwards.
Greedy decoding (temperature 0) and a fixed prompt-cache boundary (`rag.llm.prompt_cache`) keep
answers repeatable: the same prompt draws the same draft, whatever was asked before it.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import math
import os
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, Literal, Protocol, TypeVar

import numpy as np

from rag.errors import ModelError
from rag.llm.prompt_cache import SystemTurnCache, common_length

# Prompt tokens evaluated between two looks at a cancelled request: about a second on 2 cores.
PREFILL_SLICE = 64

T = TypeVar("T")


def physical_cores() -> int:
    """Physical cores: llama.cpp gains nothing from hyper-threads and loses to contention."""
    try:
        pairs = set()
        phys = core = None
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("physical id"):
                    phys = line.split(":")[1].strip()
                elif line.startswith("core id"):
                    core = line.split(":")[1].strip()
                    pairs.add((phys, core))
        if pairs:
            usable = len(os.sched_getaffinity(0))
            return max(1, min(len(pairs), usable))
    except OSError:
        pass
    return max(1, os.cpu_count() or 1)


@dataclass
class Generation:
    text: str
    prompt_tokens: int
    completion_tokens: int
    seconds: float


@dataclass
class TokenUsage:
    """The tokens one request cost: what OpenAI clients read from `usage`."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class _PerThread(Generic[T]):
    """A value that code on one thread adds to inside a block. The generator is shared by
    every request, so it cannot keep one request's counts itself; the thread that produces
    one answer is that request's alone. Blocks nest: the inner one counts, the outer one is
    put back after it."""

    def __init__(self) -> None:
        self._local = threading.local()

    @contextlib.contextmanager
    def block(self, value: T) -> Iterator[T]:
        outer = self.current()
        self._local.value = value
        try:
            yield value
        finally:
            self._local.value = outer

    def current(self) -> T | None:
        return getattr(self._local, "value", None)


_usage: _PerThread[TokenUsage] = _PerThread()


def counting_usage() -> contextlib.AbstractContextManager[TokenUsage]:
    """Add up the tokens of every generation (not the support judge's yes/no readings) that
    this thread runs inside the block: answers carry no token counts."""
    return _usage.block(TokenUsage())


def record_usage(prompt_tokens: int, completion_tokens: int) -> None:
    """Count one generation towards the block of `counting_usage` this thread is in, if any."""
    usage = _usage.current()
    if usage is not None:
        usage.prompt_tokens += prompt_tokens
        usage.completion_tokens += completion_tokens


Stage = Literal["prompt_ms", "draft_ms", "check_ms"]


@dataclass
class StageTimes:
    """Milliseconds one answer spent in each stage after retrieval, for `Timings`. A stage
    stays None when nothing measured it: a model server does not say how its time divides
    between the prompt and the draft, and an answer from before generation has neither."""

    prompt_ms: float | None = None
    draft_ms: float | None = None
    check_ms: float | None = None

    def add(self, stage: Stage, seconds: float) -> None:
        setattr(self, stage, (getattr(self, stage) or 0.0) + seconds * 1000)


_stage_times: _PerThread[StageTimes] = _PerThread()


def timing_stages(times: StageTimes) -> contextlib.AbstractContextManager[StageTimes]:
    """Add to `times` what every generation this thread runs inside the block measures. Hold
    the block only around work that does not yield (see `timed_steps`): across a yield it would
    also catch whatever else the thread runs meanwhile, and a generator closed on another
    thread would leave it set there."""
    return _stage_times.block(times)


def record_stage(stage: Stage, seconds: float) -> None:
    """Count time towards the block of `timing_stages` this thread is in, if any."""
    times = _stage_times.current()
    if times is not None:
        times.add(stage, seconds)


def timed_steps(items: Iterable[T], times: StageTimes) -> Iterator[T]:
    """`items` (a stream of draft pieces) with each step's work recorded into `times`, and
    only that: the time the consumer spends between two pieces (checking a sentence, sending
    an event) is not the model's."""
    steps = iter(items)
    while True:
        with timing_stages(times):
            try:
                item = next(steps)
            except StopIteration:
                return
        yield item


def generation_from_response(result: dict, started: float) -> Generation:
    """Both backends answer in the OpenAI chat-completion shape."""
    usage = result.get("usage") or {}
    return Generation(
        text=result["choices"][0]["message"].get("content") or "",
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        seconds=time.perf_counter() - started,
    )


class TextGenerator(Protocol):
    """What the engine needs from a model, in this process (`Generator`) or on a server
    (`rag.llm.remote_llm.RemoteGenerator`)."""

    name: str

    def count_tokens(self, text: str) -> int: ...

    def chat(self, messages: list[dict[str, str]], max_tokens: int = 256) -> Generation: ...

    def judge(self, prompts: list[list[dict[str, str]]]) -> list[float] | None:
        """P(yes) for each yes/no prompt, or None when the backend cannot read token
        probabilities."""
        ...

    def stream(
        self,
        messages: list[dict[str, str]],
        max_tokens: int = 256,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]: ...


class Generator:
    # The stream's own thread may ask the judge between two tokens (`_keeping_stream`).
    judges_mid_stream = True

    def __init__(
        self,
        model_path: Path,
        n_ctx: int = 4096,
        n_threads: int = 0,
        state_dir: Path | None = None,
    ) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:  # pragma: no cover - install problem
            raise ModelError("llama-cpp-python is not installed: run `make setup`") from exc
        threads = n_threads or physical_cores()
        try:
            self._llm = Llama(
                model_path=str(model_path),
                n_ctx=n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                n_batch=512,
                seed=0,
                verbose=False,
            )
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(
                f"llama.cpp could not load {model_path}: {exc}. Is it a complete GGUF file?"
            ) from exc
        self.model_path = Path(model_path)
        self.name = self.model_path.stem
        self.n_ctx = n_ctx
        # Re-entrant: the streaming thread may judge a finished sentence mid-stream.
        self._lock = threading.RLock()
        self._streaming = False
        # The checks' start of the cache (system turn and passages), kept over a second draft.
        self._held: _Held | None = None
        self._system_turn = SystemTurnCache(
            self._llm, state_dir, _identity(self.model_path, n_ctx, self._llm.n_batch, threads)
        )

    def answer_turn(self) -> contextlib.AbstractContextManager[object]:
        """The model for one answer at a time, its draft and its check back to back. The
        judge's prompts start with the passages the draft just read, still in llama.cpp's
        cache; another question's draft in between would push them out, and the judge would
        evaluate them again (measured: four questions at once took 75% longer than one after
        another). Re-entrant, as every call inside the turn takes the same lock."""
        return self._lock

    @functools.lru_cache(maxsize=65536)  # noqa: B019 - one generator per process
    def count_tokens(self, text: str) -> int:
        # Tokenising only reads the vocabulary, so it does not wait for a running generation.
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def chat(self, messages: list[dict[str, str]], max_tokens: int = 256) -> Generation:
        started = time.perf_counter()
        with self._lock:
            prompt = time.perf_counter()  # not counting the wait for another request's turn
            self._system_turn.settle(messages)
            self._prefill(messages)
            decoding = time.perf_counter()
            record_stage("prompt_ms", decoding - prompt)
            result = self._llm.create_chat_completion(
                messages=messages,  # type: ignore[arg-type]
                temperature=0.0,
                top_k=1,
                max_tokens=max_tokens,
                seed=0,
            )
            record_stage("draft_ms", time.perf_counter() - decoding)
        generation = generation_from_response(result, started)  # type: ignore[arg-type]
        record_usage(generation.prompt_tokens, generation.completion_tokens)
        return generation

    def judge(self, prompts: list[list[dict[str, str]]]) -> list[float] | None:
        """P(yes) for each yes/no prompt (a list of chat messages).

        Read from the next-token logits of "Yes" against "No", never from sampled text, so the
        answer is a calibrated score with a threshold rather than whatever the model writes.
        Prompts that share a start with what was evaluated last (the passages of the draft
        just written) evaluate only the rest: llama.cpp's cache still holds that start."""
        if self._system_turn.formatter is None:
            return None
        yes, no = self._verdict_tokens()
        scores: list[float] = []
        with self._lock, self._keeping_stream():
            for messages in prompts:
                tokens = self._system_turn.tokens(messages)
                if not self._take_held(tokens):
                    self._system_turn.ensure(messages)
                logits = self._eval_reusing_prefix(tokens)
                a = max(float(logits[t]) for t in yes)
                b = max(float(logits[t]) for t in no)
                scores.append(1.0 / (1.0 + math.exp(b - a)))
        return scores

    def hold(self, messages: list[dict[str, str]]) -> None:
        """Before a draft under another system turn: copy out the start of the cache that the
        checks' prompt `messages` shares (the system turn and the passages), so the checks
        after that draft read it back instead of evaluating the passages again (about 5 s on
        two cores; the copy takes tens of milliseconds)."""
        if self._system_turn.formatter is None:
            return
        with self._lock:
            tokens = self._system_turn.tokens(messages)
            n = self._keep_common_prefix(tokens, len(tokens) - 1)
            self._held = _Held(tokens[:n], *_copy_sequence(self._llm)) if n else None

    def _take_held(self, tokens: list[int]) -> bool:
        """Put the held start back when `tokens` begin with it and the cache lost it."""
        held, llm = self._held, self._llm
        if held is None or tokens[: len(held.tokens)] != held.tokens:
            return False
        if common_length(llm.input_ids[: llm.n_tokens].tolist(), held.tokens) < len(held.tokens):
            _put_sequence(llm, held.state, held.size, held.tokens)
        return True

    @contextlib.contextmanager
    def _keeping_stream(self) -> Iterator[None]:
        """Inside a paused stream (the judge reading a sentence the draft just finished), save
        the draft's cache and put it back after, so decoding resumes exactly where it stopped
        and the draft is the one it would have been. Costs tens of milliseconds: the cache of
        one sequence is copied out and in, nothing is evaluated again. Callers hold the lock."""
        if not self._streaming:
            yield
            return
        llm = self._llm
        buffer, written = _copy_sequence(llm)
        tokens = llm.input_ids[: llm.n_tokens].tolist()
        try:
            yield
        finally:
            _put_sequence(llm, buffer, written, tokens)

    @functools.cache  # noqa: B019 - one generator per process
    def _verdict_tokens(self) -> tuple[list[int], list[int]]:
        def first(words: tuple[str, ...]) -> list[int]:
            return [self._llm.tokenize(w.encode(), add_bos=False, special=False)[0] for w in words]

        return first(("Yes", "YES", " Yes")), first(("No", "NO", " No"))

    def _eval_reusing_prefix(self, tokens: list[int]) -> Any:
        """Evaluate `tokens`, keeping the longest prefix already in the KV cache; returns the
        logits after the last token. Callers hold the lock."""
        llm = self._llm
        n = self._keep_common_prefix(tokens, len(tokens) - 1)  # a token to read logits after
        llm.eval(tokens[n:])
        return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))

    def _keep_common_prefix(self, tokens: list[int], most: int) -> int:
        """Cut llama.cpp's cache back to the longest start it shares with `tokens` (at most
        `most` tokens), so only the rest is evaluated; returns that length."""
        llm = self._llm
        n = min(common_length(llm.input_ids[: llm.n_tokens].tolist(), tokens), most)
        llm._ctx.kv_cache_seq_rm(-1, n, -1)
        llm.n_tokens = n
        return n

    def _prefill(
        self, messages: list[dict[str, str]], cancel: threading.Event | None = None
    ) -> bool:
        """Evaluate the prompt in slices, checking `cancel` between them, so a client that
        leaves during prompt evaluation frees the model within one slice (about a second on
        two cores), not after the whole prompt. False when cancelled. Generation then finds
        the prompt in the cache and evaluates only its last token. Every way in slices the
        same way from the same boundary, so a prompt's logits, and its greedy draft, do not
        depend on whether it was streamed. Callers hold the lock."""
        cancel = cancel or threading.Event()
        if self._system_turn.formatter is None:
            return not cancel.is_set()
        llm, tokens = self._llm, self._system_turn.tokens(messages)
        self._keep_common_prefix(tokens, len(tokens))
        last = len(tokens) - 1
        while llm.n_tokens < last:
            if cancel.is_set():
                return False
            llm.eval(tokens[llm.n_tokens : min(llm.n_tokens + PREFILL_SLICE, last)])
        return not cancel.is_set()

    def stream(
        self,
        messages: list[dict[str, str]],
        max_tokens: int = 256,
        cancel: threading.Event | None = None,
    ) -> Iterator[str]:
        """Yield text pieces as they are decoded; setting `cancel` stops generation early."""
        with self._lock:
            if cancel is not None and cancel.is_set():
                return  # the caller left while waiting for the model
            prompt = time.perf_counter()
            self._system_turn.settle(messages)
            prefilled = self._prefill(messages, cancel)
            decoding = time.perf_counter()
            record_stage("prompt_ms", decoding - prompt)
            if not prefilled:
                return  # the caller left during prompt evaluation
            chunks = self._llm.create_chat_completion(
                messages=messages,  # type: ignore[arg-type]
                temperature=0.0,
                top_k=1,
                max_tokens=max_tokens,
                seed=0,
                stream=True,
            )
            finish = None
            self._streaming = True
            try:
                for chunk in chunks:
                    if cancel is not None and cancel.is_set():
                        break
                    choice = chunk["choices"][0]  # type: ignore[index]
                    finish = choice.get("finish_reason") or finish
                    piece = choice.get("delta", {}).get("content")
                    if piece:
                        # Decoding only: while the piece is out, the stream's thread may be
                        # judging a sentence, which is the check's time, not the draft's.
                        record_stage("draft_ms", time.perf_counter() - decoding)
                        yield piece
                        decoding = time.perf_counter()
                record_stage("draft_ms", time.perf_counter() - decoding)
            finally:
                self._streaming = False
                with contextlib.suppress(Exception):
                    chunks.close()  # type: ignore[union-attr]
            self._record_stream_usage(messages, finish)

    def _record_stream_usage(self, messages: list[dict[str, str]], finish: str | None) -> None:
        """llama.cpp reports no usage when streaming; its cache tells: it holds the prompt and
        every generated token but the last one sampled, which is evaluated only when decoding
        goes on (an end-of-turn token ends the reply and is not part of it; a reply cut at
        max_tokens ends on a kept token). Callers hold the lock."""
        if self._system_turn.formatter is None:
            return
        prompt = len(self._system_turn.tokens(messages))
        generated = self._llm.n_tokens - prompt + (1 if finish == "length" else 0)
        record_usage(prompt, max(generated, 0))


def _identity(model_path: Path, n_ctx: int, n_batch: int, threads: int) -> str:
    """What an evaluated KV state depends on besides its tokens: the model file (by path, size
    and modification time), the llama.cpp build, and the settings that shape the evaluation."""
    import llama_cpp

    stat = model_path.stat()
    return "|".join(
        map(
            str,
            [
                model_path.resolve(),
                stat.st_size,
                stat.st_mtime_ns,
                llama_cpp.__version__,
                n_ctx,
                n_batch,
                threads,
            ],
        )
    )


@dataclass(frozen=True)
class _Held:
    tokens: list[int]
    state: Any
    size: int


def _copy_sequence(llm: Any) -> tuple[Any, int]:
    """llama.cpp's cache of the one sequence, copied out: (buffer, bytes written)."""
    import llama_cpp

    ctx = llm._ctx.ctx
    size = llama_cpp.llama_state_seq_get_size(ctx, 0)
    buffer = (ctypes.c_uint8 * size)()
    return buffer, llama_cpp.llama_state_seq_get_data(ctx, buffer, size, 0)


def _put_sequence(llm: Any, buffer: Any, written: int, tokens: list[int]) -> None:
    """Put back a cache copied by `_copy_sequence`, and the tokens it holds."""
    import llama_cpp

    llm._ctx.kv_cache_seq_rm(0, -1, -1)
    if llama_cpp.llama_state_seq_set_data(llm._ctx.ctx, buffer, written, 0) != written:
        raise ModelError("llama.cpp could not put back a kept cache")
    llm.input_ids[: len(tokens)] = tokens
    llm.n_tokens = len(tokens)


_loaded: dict[tuple[str, int, int], Generator] = {}
_loading = threading.Lock()


def load_generator(
    model_path: Path, n_ctx: int = 4096, n_threads: int = 0, state_dir: Path | None = None
) -> Generator:
    """One `Generator` per model file and process, however many engines ask for it.

    Sharing the object shares its lock, so two engines (two apps, tests) over one model still
    run one generation at a time, and the weights are mapped once."""
    key = (str(Path(model_path).resolve()), n_ctx, n_threads)
    with _loading:
        if key not in _loaded:
            _loaded[key] = Generator(
                model_path, n_ctx=n_ctx, n_threads=n_threads, state_dir=state_dir
            )
        return _loaded[key]
