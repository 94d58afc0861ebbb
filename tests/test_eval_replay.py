"""The replay script's draft cache: drafts come from the cache, everything else (the support
judge above all) from the real model, so a replay scores the check the engine runs."""

from __future__ import annotations

from pathlib import Path

from scripted import ScriptedModel


def _model_with_judge() -> ScriptedModel:
    model = ScriptedModel(lambda text: len(text.split()))
    model.draft = "Ann won [1]"
    model.judge = lambda prompts: [0.25 for _ in prompts]  # type: ignore[attr-defined]
    return model


def test_drafts_are_cached_and_the_judge_is_the_models(tmp_path: Path, load_script) -> None:
    CachedDrafts = load_script("eval_replay").CachedDrafts
    inner = _model_with_judge()
    cached = CachedDrafts(inner, tmp_path / "drafts.json")
    ask = [{"role": "user", "content": "Who won?"}]
    assert cached.chat(ask).text == "Ann won [1]"
    assert cached.chat(ask).text == "Ann won [1]"
    assert inner.calls == 1  # the second from the cache, not drafted again
    assert cached.judge([ask, ask]) == [0.25, 0.25]
    assert cached.name == "scripted" and cached.count_tokens("two words") == 2
    # A later run reads the drafts this one wrote.
    again = _model_with_judge()
    assert CachedDrafts(again, tmp_path / "drafts.json").chat(ask).text == "Ann won [1]"
    assert again.calls == 0
