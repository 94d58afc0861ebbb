"""The per-answer stage times: what one request's generation records, and nothing else.

The generator is shared by every request, so its stage times reach an answer through the
thread that runs that answer's generation; these tests need no model."""

import threading
from collections.abc import Iterator

from rag.llm.generation import StageTimes, record_stage, timed_steps, timing_stages
from rag.schemas import Timings


def test_unmeasured_stages_stay_none_and_measured_ones_add_up():
    times = StageTimes()
    record_stage("prompt_ms", 1.0)  # no block open: counted nowhere
    with timing_stages(times):
        record_stage("prompt_ms", 0.25)
        record_stage("prompt_ms", 0.5)
    record_stage("prompt_ms", 1.0)  # the block is closed
    assert times.prompt_ms == 750.0
    assert times.draft_ms is None and times.check_ms is None


def test_an_inner_block_gives_the_outer_one_back():
    outer, inner = StageTimes(), StageTimes()
    with timing_stages(outer):
        with timing_stages(inner):
            record_stage("draft_ms", 0.002)
        record_stage("draft_ms", 0.001)
    assert inner.draft_ms == 2.0 and outer.draft_ms == 1.0


def test_another_threads_generation_is_not_counted():
    mine, theirs = StageTimes(), StageTimes()
    recorded = threading.Event()

    def other_request() -> None:
        with timing_stages(theirs):
            record_stage("prompt_ms", 2.0)
            recorded.set()

    with timing_stages(mine):
        thread = threading.Thread(target=other_request)
        thread.start()
        assert recorded.wait(5)  # recorded while this thread's block is open
        record_stage("prompt_ms", 0.001)
        thread.join()
    assert mine.prompt_ms == 1.0 and theirs.prompt_ms == 2000.0


def test_timed_steps_count_the_stream_not_its_consumer():
    times = StageTimes()

    def stream() -> Iterator[str]:
        record_stage("prompt_ms", 0.1)
        for piece in ("a", "b", "c"):
            record_stage("draft_ms", 0.01)
            yield piece
        record_stage("draft_ms", 0.01)  # the end-of-turn token

    pieces = []
    for piece in timed_steps(stream(), times):
        pieces.append(piece)
        record_stage("draft_ms", 5.0)  # the consumer's work between pieces (a judge reading)
    assert pieces == ["a", "b", "c"]
    assert times.prompt_ms == 100.0 and round(times.draft_ms or 0, 6) == 40.0
    record_stage("draft_ms", 5.0)  # nothing is left open once the stream ends
    assert round(times.draft_ms or 0, 6) == 40.0


def test_timings_keep_their_fields_and_add_optional_stages():
    old = Timings(retrieve_ms=1, generate_ms=2, total_ms=3).model_dump()
    assert old == {
        "retrieve_ms": 1.0,
        "generate_ms": 2.0,
        "total_ms": 3.0,
        "prompt_ms": None,
        "draft_ms": None,
        "check_ms": None,
    }
