"""The answer prompt and the checks built over the same passages: what each one reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import Settings
from rag.errors import NewsdeskError
from rag.llm.prompts import PromptSet

PASSAGES = ["[1] (Gazette) The museum reopened on Monday.", "[2] (Herald) It cost £7.3m."]


@pytest.fixture
def prompts(tmp_path: Path) -> PromptSet:
    shipped = Settings().prompts_dir
    for f in shipped.iterdir():
        (tmp_path / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "instruction.txt").write_text("Cite passages like [1].\n", encoding="utf-8")
    return PromptSet.load(tmp_path)


def _user(messages: list[dict[str, str]]) -> str:
    [system, user] = messages
    assert system["role"] == "system" and user["role"] == "user"
    return user["content"]


def test_the_instruction_is_read_by_the_draft_after_the_passages(prompts):
    user = _user(prompts.messages("When did it reopen?", PASSAGES))
    assert user.index(PASSAGES[1]) < user.index("Cite passages like [1].") < user.index("When")


def test_the_checks_share_the_drafts_prefix_but_not_its_instruction(prompts):
    draft = _user(prompts.messages("When did it reopen?", PASSAGES))
    [judge] = prompts.judge_prompts(PASSAGES, [("It reopened on Monday.", [1])], {1: "..."})
    relevance = prompts.relevance_messages(PASSAGES, "When did it reopen?", "On Monday.")
    shared = draft[: draft.index(PASSAGES[1]) + len(PASSAGES[1])]
    for check in (_user(judge), _user(relevance)):
        assert check.startswith(shared)
        assert "Cite passages" not in check


def test_no_instruction_leaves_no_gap(tmp_path, prompts):
    (tmp_path / "instruction.txt").write_text("", encoding="utf-8")
    user = _user(PromptSet.load(tmp_path).messages("When?", PASSAGES))
    assert f"{PASSAGES[1]}\n\nQuestion: When?" in user


def test_a_folder_without_an_instruction_file_has_none(tmp_path, prompts):
    (tmp_path / "instruction.txt").unlink()
    user = _user(PromptSet.load(tmp_path).messages("When?", PASSAGES))
    assert f"{PASSAGES[1]}\n\nQuestion: When?" in user


def test_an_instruction_with_no_place_in_the_question_is_an_error(tmp_path, prompts):
    (tmp_path / "question.txt").write_text("$passages\n\nQuestion: $question", encoding="utf-8")
    with pytest.raises(NewsdeskError, match=r"no \$instruction"):
        PromptSet.load(tmp_path)
