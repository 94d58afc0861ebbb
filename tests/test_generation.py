"""The in-process generator with the default GGUF: a prompt is computed the same way whatever
was asked before it, so a greedy draft is a function of its prompt."""

import contextlib
import threading

import numpy as np
import pytest

from rag.llm import kv_state
from rag.llm.generation import PREFILL_SLICE
from rag.llm.prompt_cache import SystemTurnCache, common_length
from rag.llm.prompts import PromptSet

QUESTION = "Which countries refused to send troops to Ukraine?"
OTHERS = ["Who is the UK Prime Minister?", "How many drones were destroyed?"]


def logits_after(generator, messages, history) -> np.ndarray:
    """Next-token logits for `messages` after the cache last held `history`, computed as
    `Llama.generate` does: reuse the cached prefix, evaluate the rest."""
    llm, cache = generator._llm, generator._system_turn
    # The cache holds `history` (its system turn, already there, is kept rather than evaluated
    # again: every history shares it).
    held = cache.tokens(history)
    llm.eval(held[generator._keep_common_prefix(held, len(held)) :])
    cache.settle(messages)
    tokens = cache.tokens(messages)
    common = common_length(llm.input_ids[: llm.n_tokens].tolist(), tokens)
    llm._ctx.kv_cache_seq_rm(-1, common, -1)
    llm.n_tokens = common
    llm.eval(tokens[common:])
    return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()


@pytest.mark.slow
def test_system_turn_is_the_only_cached_prefix(seeded_engine):
    generator = seeded_engine.generator
    messages = seeded_engine.prepare(QUESTION).messages
    prefix = generator._system_turn.prefix(messages[0]["content"])
    tokens = generator._system_turn.tokens(messages)
    # The whole system turn (instructions and worked example), and the prompt starts with it.
    assert len(prefix) > 250 and tokens[: len(prefix)] == prefix
    generator.chat(messages, max_tokens=4)
    assert generator._llm.n_tokens > len(tokens)  # the answer's tokens are cached after it
    generator._system_turn.settle(messages)
    assert generator._llm.n_tokens == len(prefix)


@pytest.mark.slow
@pytest.mark.long
def test_same_prompt_same_logits_whatever_came_before(seeded_engine):
    generator = seeded_engine.generator
    messages = seeded_engine.prepare(QUESTION).messages
    histories = [seeded_engine.prepare(q).messages for q in OTHERS] + [messages]
    with generator._lock:
        first, *rest = [logits_after(generator, messages, h) for h in histories]
    # Bit for bit: llama.cpp's batch shapes, and so the last bits of every logit, depend on
    # where the cached prefix ends. Before the fixed boundary these differed by up to 0.5.
    for other in rest:
        assert np.array_equal(first, other), float(np.abs(first - other).max())


@pytest.mark.slow
@pytest.mark.long
def test_same_prompt_same_draft_after_other_questions(seeded_engine):
    generator = seeded_engine.generator
    messages = seeded_engine.prepare(QUESTION).messages
    first = generator.chat(messages, max_tokens=48).text
    for other in OTHERS:
        generator.chat(seeded_engine.prepare(other).messages, max_tokens=8)
        assert generator.chat(messages, max_tokens=48).text == first


class _NoTemplateModel:
    """A model llama-cpp-python renders with a built-in format, not a GGUF template."""

    metadata: dict[str, str] = {}
    chat_handler = None
    chat_format = "llama-2"
    n_tokens = 7


class _BrokenTemplateModel(_NoTemplateModel):
    metadata = {"tokenizer.chat_template": "{{ raise_exception('no system role') }}"}
    chat_format = "chat_template.default"

    def token_eos(self) -> int:
        return -1

    token_bos = token_eos


@pytest.mark.parametrize("model", [_NoTemplateModel(), _BrokenTemplateModel()])
def test_no_boundary_without_a_template_to_render(model):
    # A user's GGUF whose chat format cannot be rendered here keeps llama-cpp-python's own
    # prefix reuse: the cache is left as it is, and generation goes ahead.
    cache = SystemTurnCache(model)
    messages = [{"role": "system", "content": "Rules."}, {"role": "user", "content": "Q?"}]
    assert cache.prefix("Rules.") == []
    cache.settle(messages)
    assert model.n_tokens == 7


@contextlib.contextmanager
def _system_turn_cache(generator, state_dir, identity):
    """The generator, locked, with a system-turn cache keeping its state in `state_dir`; its
    own cache is put back (and the KV cleared) afterwards."""
    with generator._lock:
        kept = generator._system_turn
        generator._system_turn = SystemTurnCache(generator._llm, state_dir, identity)
        try:
            yield generator._system_turn
        finally:
            generator._system_turn = kept
            generator._llm.reset()


def _rest_logits(generator, messages) -> np.ndarray:
    """Next-token logits for `messages` with the cache holding its system turn."""
    llm, cache = generator._llm, generator._system_turn
    tokens = cache.tokens(messages)
    llm.eval(tokens[llm.n_tokens :])
    return np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),)).copy()


@pytest.mark.slow
@pytest.mark.long
def test_the_system_turn_kept_on_disk_restores_the_same_cache(seeded_engine, tmp_path, monkeypatch):
    generator = seeded_engine.generator
    messages = seeded_engine.prepare(QUESTION).messages
    restored = []
    real_restore = kv_state.restore
    monkeypatch.setattr(
        kv_state, "restore", lambda *a: restored.append(real_restore(*a)) or restored[-1]
    )
    llm = generator._llm
    with _system_turn_cache(generator, tmp_path, "model-a") as cache:
        llm.reset()
        cache.settle(messages)  # evaluated, then written
        [path] = tmp_path.glob("system-*.kv")
        evaluated = _rest_logits(generator, messages)
        llm.reset()  # as in a new process: nothing cached in memory
        cache.settle(messages)
        assert restored == [False, True]
        assert llm.n_tokens == len(cache.prefix(messages[0]["content"]))
        # Bit for bit the cache an evaluation leaves, so drafts do not change.
        assert np.array_equal(evaluated, _rest_logits(generator, messages))

        # A damaged file is not used: the turn is evaluated again and the file rewritten.
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        llm.reset()
        cache.settle(messages)
        assert restored[-1] is False
        assert np.array_equal(evaluated, _rest_logits(generator, messages))
        llm.reset()
        cache.settle(messages)
        assert restored[-1] is True

        # Another model file (or llama.cpp build, or settings) never reads this one.
        other = SystemTurnCache(llm, tmp_path, "model-b")
        prefix = other.prefix(messages[0]["content"])
        assert kv_state.state_path(tmp_path, "model-b", prefix) != path


@pytest.mark.slow
def test_a_state_dir_that_cannot_be_written_only_costs_time(seeded_engine, tmp_path):
    generator = seeded_engine.generator
    messages = seeded_engine.prepare(QUESTION).messages
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the directory should be")
    with _system_turn_cache(generator, blocked / "kv", "model-a") as cache:
        generator._llm.reset()
        cache.settle(messages)
        assert generator._llm.n_tokens == len(cache.prefix(messages[0]["content"]))


def test_each_claim_is_judged_beside_the_passages_it_cites(settings):
    prompts = PromptSet.load(settings.prompts_dir)
    claims = [("A rose.", [1]), ("C held.", [2])]
    quotes = {1: "A rose and B fell.", 2: "B fell, C held."}
    asks = prompts.judge_prompts(["[1] ...", "[2] ..."], claims, quotes)
    assert len(asks) == 2
    first, second = (ask[-1]["content"] for ask in asks)
    assert "[1] ...\n\n[2] ..." in first and "[1] ...\n\n[2] ..." in second  # the draft's
    assert 'Passage [1]: "A rose and B fell."' in first and "Passage [2]" not in first
    assert 'Passage [2]: "B fell, C held."' in second and "Passage [1]:" not in second


@pytest.mark.slow
def test_the_judge_reads_meaning_not_shared_words(seeded_engine):
    # Pairs from eval/support_pairs.jsonl: each wrong claim shares nearly every word with its
    # evidence, so only a reading of meaning rejects it.
    cases = [
        (
            "Among the outcomes of the meeting, EU leaders endorsed a £670 billion defence "
            "package aimed at bolstering the continent's security.",
            "EU leaders backed a £670 billion defence package.",
            "EU leaders rejected a £670 billion defence package.",
        ),
        (
            "Russia's foreign minister Sergei Lavrov vehemently opposed the prospect of NATO "
            "members joining the coalition.",
            "Sergei Lavrov strongly opposed NATO members joining the coalition.",
            "Sergei Lavrov welcomed the prospect of NATO members joining the coalition.",
        ),
    ]
    engine, prompts = seeded_engine, seeded_engine.prompts
    threshold = engine.settings.support_threshold

    def judge(evidence: str, claims: list[str]) -> list[float]:
        passage = prompts.render_passage(1, None, "", evidence)
        asks = prompts.judge_prompts([passage], [(c, [1]) for c in claims], {1: evidence})
        return engine.generator.judge(asks)

    for evidence, right, wrong in cases:
        [p_right], [p_wrong] = judge(evidence, [right]), judge(evidence, [wrong])
        assert p_right > threshold > p_wrong, (right, p_right, p_wrong)
        # An answer's sentences are judged together: each verdict reads its own claim,
        # whichever comes first.
        together = judge(evidence, [right, wrong])
        assert together[0] > threshold > together[1], (right, together)
        together = judge(evidence, [wrong, right])
        assert together[1] > threshold > together[0], (right, together)


@pytest.mark.slow
def test_a_cancelled_request_stops_during_prompt_evaluation(seeded_engine):
    generator = seeded_engine.generator
    messages = seeded_engine.prepare(QUESTION).messages
    tokens = generator._system_turn.tokens(messages)
    prefix = generator._system_turn.prefix(messages[0]["content"])
    assert len(tokens) - len(prefix) > 3 * PREFILL_SLICE  # several slices to evaluate
    cancel = threading.Event()
    threading.Timer(0.2, cancel.set).start()
    assert list(generator.stream(messages, cancel=cancel)) == []
    # It stopped between slices: the prompt's end was never evaluated.
    assert generator._llm.n_tokens < len(tokens) - 1
    # The next request is unaffected: the same greedy draft as a fresh chat.
    first = generator.chat(messages, max_tokens=24).text
    assert "".join(generator.stream(messages, max_tokens=24)) == first


@pytest.mark.slow
def test_judging_between_two_tokens_leaves_the_draft_as_it_would_have_been(seeded_engine):
    # A stream's thread checks a finished sentence before the next token: the judge evaluates
    # its own prompt in the same cache, which must be put back for decoding to resume.
    engine, generator = seeded_engine, seeded_engine.generator
    prepared = engine.prepare(QUESTION)
    alone = "".join(generator.stream(prepared.messages, max_tokens=40))
    rendered = engine.render_passages(prepared.passages)
    [ask] = engine.prompts.judge_prompts(rendered, [(alone, [1])], {1: prepared.passages[0].text})
    [expected] = generator.judge([ask])
    pieces, scores = [], []
    for piece in generator.stream(prepared.messages, max_tokens=40):
        pieces.append(piece)
        if len(pieces) in (3, 9):
            scores += generator.judge([ask])
    assert "".join(pieces) == alone
    assert len(scores) == 2 and all(abs(s - expected) < 1e-3 for s in scores), (scores, expected)


@pytest.mark.slow
def test_the_judge_after_a_second_draft_evaluates_only_its_own_question(seeded_engine, monkeypatch):
    # A second draft is written under another system turn; the judge's prompts keep the default
    # one. Its passages are read back from a copy held over the second draft (`hold`); without
    # one, the system turn is read back (from memory or disk) and the passages evaluated again.
    engine, generator = seeded_engine, seeded_engine.generator
    prepared = engine.prepare(QUESTION)
    rendered = engine.render_passages(prepared.passages)
    text = prepared.passages[0].text
    asks = engine.prompts.judge_prompts(rendered, [(text, [1])], {1: text})
    tokens = generator._system_turn.tokens(asks[0])
    prefix = generator._system_turn.prefix(asks[0][0]["content"])
    second = engine.prompts.second_messages(prepared.q, rendered)
    llm, evaluated = generator._llm, []
    real_eval = llm.eval

    def counting(tokens):
        evaluated.append(len(tokens))
        return real_eval(tokens)

    def judged_after_second_draft(hold: bool) -> tuple[float, int]:
        generator.chat(prepared.messages, max_tokens=4)
        if hold:
            generator.hold(engine.prompts.relevance_messages(rendered, prepared.q, ""))
        generator.chat(second, max_tokens=4)
        evaluated.clear()
        monkeypatch.setattr(llm, "eval", counting)
        [p_yes] = generator.judge(asks)
        monkeypatch.undo()
        return p_yes, sum(evaluated)

    generator.chat(prepared.messages, max_tokens=4)
    [after_first] = generator.judge(asks)
    generator._held = None
    reread, n_reread = judged_after_second_draft(hold=False)
    held, n_held = judged_after_second_draft(hold=True)
    passages_end = len(generator._held.tokens)
    assert passages_end > len(prefix) + 100
    assert n_reread == len(tokens) - len(prefix)
    assert n_held == len(tokens) - passages_end
    # Other batch shapes may move a reading in its last bits, never its verdict.
    assert after_first > 0.5
    assert abs(after_first - reread) < 0.02 and abs(after_first - held) < 0.02
