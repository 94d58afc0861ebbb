"""Disagreements between reports, read from the article text (real seed sentences)."""

from __future__ import annotations

from rag.answer.conflicts import Claim, Conflict, cite_article_claims, describe, find_conflicts
from rag.index.documents import DocumentRecord, Unit
from rag.retrieve.context import Passage


def _passages(sentences: list[tuple[str, str]]) -> list[Passage]:
    passages = []
    for i, (doc_id, text) in enumerate(sentences):
        doc = DocumentRecord(doc_id, f"{doc_id}.txt", None, "h", f"Title {doc_id}", doc_id, 1, 0)
        unit = Unit(f"{doc_id}:{i}", doc_id, i, 10, 10 + len(text), text)
        passages.append(Passage(doc, [unit], 1.0 / (i + 1), 0.5))
    return passages


SEED_SENTENCES = [
    (
        "001",
        "Starmer's proposal aligns with efforts from UK Prime Minister Rishi Sunak and French "
        "President Emmanuel Macron to galvanize a “coalition of the willing”.",
    ),
    ("004", "Prime Minister Sir Keir Starmer unveiled the initiative."),
    ("002", "On the day of the summit, Chinese President Vladimir Putin sent a stern message."),
    ("000", "Russian President Vladimir Putin appeared defiant."),
    ("001", "Additionally, former Russian President Dmitry Medvedev derided Macron."),
    (
        "000",
        "Meanwhile, Russia has intensified aerial assaults, launching over 500 drones and 24 "
        "cruise missiles overnight.",
    ),
    ("002", "Ukraine reported that it had destroyed 84 drones overnight into Thursday."),
    ("003", "President Donald Trump offered the Russian leader a deal."),
]


def _article(doc_id: str, sentences: list[str]) -> tuple[str, list[Unit]]:
    """An article's text and its sentence units, as ingest stores them (exact spans)."""
    text, units = "", []
    for i, sentence in enumerate(sentences):
        start = len(text)
        text += sentence + " "
        units.append(Unit(f"{doc_id}~s{i}", doc_id, i, start, start + len(sentence), sentence))
    return text, units


ARTICLES = {"005": _article("005", ["US President Donald Trump said so."])[1]}


def test_who_holds_a_title():
    passages = _passages(SEED_SENTENCES)
    [conflict] = find_conflicts("Who is the UK prime minister?", passages, ARTICLES)
    assert conflict.kind == "title"
    assert [c.value for c in conflict.claims] == ["Rishi Sunak", "Sir Keir Starmer"]
    assert [c.passage for c in conflict.claims] == [1, 2]
    text = describe(conflict)
    # Each side in the report's own words, so the quote can be found in its passage.
    assert "“UK Prime Minister Rishi Sunak” [1]" in text
    assert "“Prime Minister Sir Keir Starmer” [2]" in text


def test_a_persons_title():
    passages = _passages(SEED_SENTENCES)
    [conflict] = find_conflicts(
        "Which country is Vladimir Putin described as president of?", passages, ARTICLES
    )
    assert {c.value for c in conflict.claims} == {"Chinese President", "Russian President"}


def test_quantities():
    passages = _passages(SEED_SENTENCES)
    [conflict] = find_conflicts("How many drones were in the attack?", passages, ARTICLES)
    assert conflict.kind == "quantity"
    assert [c.value for c in conflict.claims] == ["500", "84"]
    assert describe(conflict) == (
        "The reports give different numbers of drones: “launching over 500 drones” [6]; "
        "“destroyed 84 drones” [7]."
    )


def test_a_quantity_asked_with_its_verb_is_one_fact_not_a_conflict():
    # 84 destroyed and over 500 launched are two facts; asking for one is no disagreement.
    passages = _passages(SEED_SENTENCES)
    assert find_conflicts("How many drones did Ukraine destroy?", passages, ARTICLES) == []
    assert find_conflicts("How many drones did Russia launch?", passages, ARTICLES) == []


def test_no_conflict_when_not_asked_or_consistent():
    passages = _passages(SEED_SENTENCES)
    assert find_conflicts("What did Putin say about the war?", passages, ARTICLES) == []
    # Trump is "US President" elsewhere in the articles, so he is no rival French president,
    # and "former" Medvedev holds no title.
    assert find_conflicts("Who is the French president?", passages, ARTICLES) == []
    assert find_conflicts("Who is the president of Russia?", passages, ARTICLES) == []
    assert find_conflicts("How many cruise missiles were launched?", passages, ARTICLES) == []


def test_one_article_contradicting_itself_is_not_a_cross_source_conflict():
    passages = _passages([("000", s) for _, s in SEED_SENTENCES[:2]])
    assert find_conflicts("Who is the UK prime minister?", passages, ARTICLES) == []


def test_a_title_in_other_words_is_the_same_title():
    passages = _passages(
        [
            ("003", "As the situation develops, UK Defence Secretary John Healey held talks."),
            ("000", "Allies are prepared, British Defence Secretary John Healey has said."),
        ]
    )
    assert find_conflicts("What title do the reports give John Healey?", passages, {}) == []


def test_the_other_side_of_a_title_can_come_from_elsewhere_in_the_articles():
    passages = _passages([SEED_SENTENCES[2]])  # 002: "Chinese President Vladimir Putin"
    text_002, units_002 = _article(
        "002",
        ["Intro.", "On the day of the summit, Chinese President Vladimir Putin sent a message."],
    )
    text_001, units_001 = _article(
        "001",
        ["Kyiv was hit.", "He spoke after Russian President Vladimir Putin said so.", "End."],
    )
    articles = {"002": units_002, "001": units_001}
    question = "Which country is Vladimir Putin described as president of?"
    [conflict] = find_conflicts(question, passages, articles)
    outside = [c for c in conflict.claims if c.passage == 0]
    assert [c.value for c in outside] == ["Russian President"]
    unit = outside[0].unit
    # An exact span of its article: the sentence, not the paragraph.
    assert unit.doc_id == "001" and text_001[unit.start : unit.end] == unit.text
    assert unit.text == "He spoke after Russian President Vladimir Putin said so."

    docs = {p.document.doc_id: p.document for p in passages}
    docs["001"] = DocumentRecord("001", "001.txt", None, "h", "Title 001", "001", 1, 0)
    numbered, [cited] = cite_article_claims([conflict], passages, docs)
    assert len(numbered) == 2 and numbered[1].sentences == [unit]
    assert [c.passage for c in cited.claims] == [1, 2]
    assert "\u201cRussian President Vladimir Putin\u201d [2]" in describe(cited)


def test_a_possessive_is_a_title_only_for_a_country():
    passages = _passages(
        [
            ("001", "Starmer's Prime Minister Bob Smith spoke."),
            ("002", "UK Prime Minister Rishi Sunak spoke."),
        ]
    )
    assert find_conflicts("What title does Bob Smith have?", passages, {}) == []


WHO = (
    "Who has threatened to punish the Russian leader for refusing to end the war or meet Zelensky?"
)


def _actor_passages(second: str) -> list[Passage]:
    first = _passages(
        [
            ("001", "As late as Tuesday, Trump said he was “disappointed” in Putin."),
            (
                "001",
                "He has also threatened to punish the Russian leader for the apparent refusal "
                "to end the war — or even meet Ukraine’s President Volodymyr Zelensky.",
            ),
        ]
    )
    one = Passage(first[0].document, [first[0].sentences[0], first[1].sentences[0]], 1.0, 0.5)
    return [one, *_passages([("002", second)])]


def test_reports_that_give_one_act_to_different_people():
    passages = _actor_passages(
        "Additionally, Putin has vowed to meet with Ukrainian President Volodymyr Zelensky for "
        "peace talks or to punish the Russian leader for his alleged failure to halt the war."
    )
    [conflict] = find_conflicts(WHO, passages, {})
    assert conflict.kind == "actor"
    assert [c.value for c in conflict.claims] == ["Trump", "Putin"]
    # "He" is named by the sentence before it, which is cited with it.
    assert conflict.claims[0].antecedent == passages[0].sentences[0]
    assert conflict.claims[0].words.startswith("He has also threatened")
    text = describe(conflict)
    assert text.startswith("The reports disagree on who did it: Trump (“He has also")
    assert "Putin (“Putin has vowed" in text and text.endswith("[2].")


def test_one_act_by_the_same_person_or_a_question_not_asking_who_is_no_conflict():
    same = _actor_passages(
        "Trump has threatened to punish the Russian leader for refusing to end the war."
    )
    assert find_conflicts(WHO, same, {}) == []
    other = _actor_passages(
        "Additionally, Putin has vowed to meet with Ukrainian President Volodymyr Zelensky for "
        "peace talks or to punish the Russian leader for his alleged failure to halt the war."
    )
    assert find_conflicts("What did Trump threaten to do to the Russian leader?", other, {}) == []


class _Unread(dict):
    def values(self):
        raise AssertionError("the articles were read for a question about no title")


def test_articles_are_read_only_for_a_question_about_a_title():
    passages = _passages(SEED_SENTENCES[5:7])  # 500 drones launched, 84 destroyed
    [conflict] = find_conflicts("How many drones were in the attack?", passages, _Unread())
    assert conflict.kind == "quantity"


def test_a_sentence_a_passage_shows_keeps_its_number():
    text, units = _article("001", ["Russia\u2019s President Vladimir Putin said so."])
    doc = DocumentRecord("001", "001.txt", None, "h", "Title 001", "001", 1, 0)
    passages = [*_passages([SEED_SENTENCES[2]]), Passage(doc, units, 0.5, 0.5)]
    claim = Claim("Russia President", 0, units[0], "Russia\u2019s President Vladimir Putin")
    conflict = Conflict("title", "Vladimir Putin's title", [claim])
    numbered, [cited] = cite_article_claims([conflict], passages, {"001": doc})
    assert len(numbered) == 2 and cited.claims[0].passage == 2


# Each rule below keeps a false "the reports disagree on who did it" out; every example is
# invented, and each would have been reported as a disagreement without its rule.

REPLACED = "Who replaced Tom Vale on the breakfast show?"
MARSH = ("101", "Jo Marsh replaced Tom Vale on the breakfast show in May.")


def test_a_word_that_opens_a_sentence_names_no_one():
    passages = _passages(
        [
            MARSH,
            # Function words, and a word capitalised only because it opens the sentence.
            ("102", "All three presenters replaced Tom Vale on the breakfast show for a week."),
            ("103", "Veteran presenters replaced Tom Vale on the breakfast show last year."),
            ("104", "The station replaced Tom Vale on the breakfast show after a row."),
        ]
    )
    assert find_conflicts(REPLACED, passages, {}) == []


def test_a_hyphenated_common_word_is_no_name():
    passages = _passages(
        [
            ("101", "Ex-chat show host Ray Dunn resigned from the Harbour Party on Monday."),
            ("102", "Mr Pike resigned from the Harbour Party last year."),
        ]
    )
    assert find_conflicts("Who resigned from the Harbour Party?", passages, {}) == []


def test_a_club_or_firm_is_no_person():
    passages = _passages(
        [
            ("101", "Harbourside have sacked Tom Vale after the cup defeat."),
            ("101", "A statement from Harbourside thanked him."),
            ("102", "Mr Pike sacked Tom Vale after the cup defeat."),
        ]
    )
    assert find_conflicts("Who sacked Tom Vale?", passages, {}) == []


def test_the_other_side_must_do_the_asked_act():
    # Another verb ("took over"), or the asked verb in the passive ("was replaced"): the
    # subject did not do the asked act.
    passages = _passages(
        [
            MARSH,
            ("102", "Kim Ross took over after Tom Vale left the breakfast show."),
            ("103", "Kim Ross was replaced on the breakfast show when Tom Vale returned."),
        ]
    )
    assert find_conflicts(REPLACED, passages, {}) == []


def test_the_other_side_must_do_it_to_the_asked_object():
    passages = _passages(
        [
            ("101", "Ann Lee sacked the coach of the harbour team on Friday."),
            ("102", "Mr Pike sacked the physio of the harbour team after the coach complained."),
            ("103", "Rob Kerr has made an offer to sack the coach of the harbour team."),
        ]
    )
    assert find_conflicts("Who sacked the coach of the harbour team?", passages, {}) == []


def test_a_readers_comment_or_a_quoted_line_is_no_report():
    passages = _passages(
        [
            MARSH,
            ("102", "Kim Ross replaced Tom Vale on the breakfast show and we all loved it!"),
            ("103", "Kim Ross replaced Tom Vale on the breakfast show, I think."),
        ]
    )
    assert find_conflicts(REPLACED, passages, {}) == []


def test_two_reports_naming_the_same_two_people_do_not_disagree():
    passages = _passages(
        [
            MARSH,
            ("102", "Kim Ross replaced Tom Vale on the breakfast show in June."),
            ("101", "Kim Ross replaced Tom Vale on the breakfast show in June."),
        ]
    )
    assert find_conflicts(REPLACED, passages, {}) == []


def test_a_who_question_asking_for_no_act_has_no_actor():
    passages = _passages(
        [
            ("101", "Jo Marsh leads the harbour board, the council said."),
            ("102", "Kim Ross leads the harbour board, officials said."),
        ]
    )
    assert find_conflicts("Who is the leader of the harbour board?", passages, {}) == []


def test_two_people_given_one_act_still_disagree():
    # The rules above keep a real disagreement: two named people, the asked verb in the
    # active voice, the asked object, each in a report's own narration.
    passages = _passages([MARSH, ("102", "Mr Ross replaced Tom Vale on the breakfast show.")])
    [conflict] = find_conflicts(REPLACED, passages, {})
    assert [c.value for c in conflict.claims] == ["Marsh", "Ross"]


PETROV = [
    ("101", "Ruritanian President Ivan Petrov arrived on Monday."),
    ("102", "Freedonian President Ivan Petrov arrived on Monday."),
]


def test_a_persons_title_counts_only_when_that_title_is_asked():
    passages = _passages(PETROV)
    [conflict] = find_conflicts("Which country is Ivan Petrov president of?", passages, {})
    assert {c.value for c in conflict.claims} == {"Ruritanian President", "Freedonian President"}
    # The question names the person beside another role: it asks about someone else.
    question = "What is the name of the foreign minister who met Ivan Petrov?"
    assert find_conflicts(question, passages, {}) == []


def test_a_party_is_no_rival_country():
    passages = _passages(
        [
            ("101", "Labour Prime Minister Ivan Petrov arrived on Monday."),
            ("102", "Ruritanian Prime Minister Ivan Petrov arrived on Monday."),
        ]
    )
    assert find_conflicts("What title do the reports give Ivan Petrov?", passages, {}) == []


def test_a_title_in_a_readers_comment_is_no_report():
    passages = _passages(
        [PETROV[0], ("102", "I never trusted Freedonian President Ivan Petrov anyway!")]
    )
    assert find_conflicts("What title do the reports give Ivan Petrov?", passages, {}) == []


def test_a_year_or_a_sum_of_money_is_no_count():
    passages = _passages(
        [
            ("101", "The club sold 300 tickets for the final."),
            ("102", "The 2019 tickets sold out within an hour."),
            ("103", "Touts offered $50 tickets outside the ground."),
        ]
    )
    assert find_conflicts("How many tickets did the club sell?", passages, {}) == []


def test_one_article_giving_both_counts_is_no_disagreement_with_another():
    passages = _passages(
        [
            ("102", "Organisers said 900 marchers took part."),
            ("101", "Police counted 300 marchers at noon and 900 marchers by dusk."),
        ]
    )
    assert find_conflicts("How many marchers were there?", passages, {}) == []
