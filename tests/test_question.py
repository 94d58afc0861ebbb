"""A question's shape: its parts and whether it asks for a list (grammar only, no topics),
and the questions no way in accepts."""

import pytest

from rag.answer.citations import strip_markers
from rag.config import Settings
from rag.engine import Engine
from rag.errors import BadQuestion
from rag.retrieve.question import (
    asks_for_figure,
    asks_for_list,
    asks_for_name,
    gives_figure,
    gives_name,
    part_queries,
    question_parts,
)


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
    ("question", "queries"),
    [
        (
            "Where did Jo Dunn die, and how old was she?",
            ["Where did Jo Dunn die?", "how old was she? Jo Dunn"],
        ),
        (
            "Who beat Ann Lee, and who did Ann Lee play next?",
            ["Who beat Ann Lee?", "who did Ann Lee play next?"],
        ),
        ("What did the mayor say?", []),
    ],
)
def test_a_part_that_names_no_one_is_searched_with_the_other_parts_names(question, queries):
    assert part_queries(question) == queries


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
    ("question", "answer", "answers"),
    [
        ("How many people were hurt in the fire?", "Twelve people were hurt [1].", True),
        ("How many people were hurt in the fire?", "Dozens were hurt [2].", True),
        ("How many people were hurt in the fire?", "The fire hurt people in the town [1].", False),
        # The only number is the question's own.
        ("How many of the 40 flights were cancelled?", "There were 40 flights [1].", False),
        ("How many of the 40 flights were cancelled?", "Of the 40, 12 were cancelled [1].", True),
        ("How much did the club pay for him?", "The club paid £4.5m [1].", True),
        ("What share of its budget goes on rent?", "Rent is a big cost [1].", False),
        ("What share of its budget goes on rent?", "Rent costs £4m a year [1].", False),
        ("What share of its budget goes on rent?", "Rent takes 12% of it [1].", True),
        ("What proportion of staff work from home?", "About a third do [1].", True),
        ("On what date did the trial open?", "The trial opened on 3 May [1].", True),
        ("On what date did the trial open?", "It opened in March [1].", True),
        ("On what date did the trial open?", "The trial opened on Tuesday [1].", False),
        # A citation marker is not a figure.
        ("In which year was the firm founded?", "The firm was founded by two brothers [2].", False),
    ],
)
def test_a_figure_question_needs_a_figure_beyond_its_own(question, answer, answers):
    assert asks_for_figure(question)
    assert gives_figure(question, strip_markers(answer)) is answers


@pytest.mark.parametrize(
    "question",
    [
        "Who chairs the board?",
        "When did the trial open?",  # "last week" and "on Tuesday" both answer "when"
        "How many staff does it employ, and who runs it?",  # a part answered is kept
        "How did the firm react?",
    ],
)
def test_other_questions_are_not_figure_questions(question):
    assert not asks_for_figure(question)


@pytest.mark.parametrize(
    ("question", "answer", "answers"),
    [
        ("What is the name of the mayor's deputy?", "The deputy resigned on Monday [1].", False),
        ("What is the name of the mayor's deputy?", "She left in March [1].", False),
        ("What is the name of the mayor's deputy?", "Her deputy is Lena Orr [1].", True),
        ("What was the first name of Tom Reed's wife?", "Tom Reed's wife was Mary [1].", True),
        ("What was the first name of Tom Reed's wife?", "Tom Reed's wife died [1].", False),
        ("Name the ship that sank.", "It was the Aurora [1].", True),
        # A name the question gives, possessive or not, is not an answer to it.
        ("What is the name of Ross's dog?", "Ross's dog ran off [1].", False),
        ("What is the name of Ross's dog?", "Ross called the dog Rex [1].", True),
    ],
)
def test_a_name_question_needs_a_name_beyond_its_own(question, answer, answers):
    assert asks_for_name(question)
    assert gives_name(question, strip_markers(answer)) is answers


@pytest.mark.parametrize(
    "question",
    [
        "Who chairs the board?",  # "who" may be answered by a role or a description
        "Which firms changed their names?",
        "What is the code name of the product, and when was it leaked?",  # two parts
    ],
)
def test_other_questions_are_not_name_questions(question):
    assert not asks_for_name(question)


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
