"""A question's shape: its parts and whether it asks for a list (grammar only, no topics),
and the questions no way in accepts."""

import pytest

from rag.config import Settings
from rag.engine import Engine
from rag.errors import BadQuestion
from rag.question import asks_for_list, question_parts


@pytest.mark.parametrize(
    ("question", "parts"),
    [
        (
            "Where did the singer die, and how old was he?",
            ["Where did the singer die?", "how old was he?"],
        ),
        (
            "How many staff does the firm employ and which chairman rejected the offer?",
            ["How many staff does the firm employ?", "which chairman rejected the offer?"],
        ),
        (
            "When did the museum open; who paid for it?",
            ["When did the museum open?", "who paid for it?"],
        ),
        ("Who bought and sold the shares?", []),
        ("Which firms rose and fell on Monday?", []),
        ("What did the mayor say?", []),
    ],
)
def test_a_question_splits_where_a_new_wh_word_starts_a_part(question, parts):
    assert question_parts(question) == parts


@pytest.mark.parametrize(
    ("question", "is_list"),
    [
        ("Which three websites received the details?", True),
        ("Which countries refused to send troops?", True),
        ("Which named people were involved?", True),
        ("What brands is the winemaker behind?", True),
        ("Which company supplies the drones?", False),
        ("What is the name of the chairman?", False),
        ("How many seats did the party win?", False),
        ("Who is the defence secretary?", False),
    ],
)
def test_a_list_question_asks_for_a_plural_or_a_count(question, is_list):
    assert asks_for_list(question) is is_list


@pytest.mark.parametrize(
    ("question", "reason"),
    [
        ("   ", "empty"),
        ("Who won?\x00", "control character U.0000"),
        ("Who \ud800 won?", "surrogate"),
        ("x" * 2001, "2000"),
    ],
)
def test_every_way_in_refuses_the_same_bad_questions(tmp_path, question, reason):
    # The CLI and the evaluator ask the engine directly; it checks what the HTTP schema checks.
    engine = Engine(Settings(data_dir=tmp_path))
    with pytest.raises(BadQuestion, match=reason):
        engine.check_question(question)
