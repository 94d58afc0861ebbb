"""Finding the answering sentence without the model, on the seed articles' own sentences.
The engine path (a declined draft replaced and then checked) is covered at the bottom."""

from dataclasses import replace

from test_grounding import passage_of as passage

from rag.extractive import (
    answering_sentence,
    asks_for_media,
    asks_for_wording,
    has_quotation,
    incomplete,
    outlet_answer,
)

STRIKES = (
    "Ukraine reported that it had destroyed 84 drones overnight into Thursday, but that 17 "
    "sites had been struck nationwide."
)
KYIV = (
    "Last week, a Russian missile hit a block of flats in Kyiv killing 22 people, including "
    "four children, in one of the deadliest strikes since Russia’s full-scale invasion."
)
PUTIN = (
    "During a Wednesday news conference, Putin said there was “a certain light at the end of "
    "the tunnel” regarding peace prospects."
)
ASSAULT = (
    "Meanwhile, Russia has intensified aerial assaults, launching over 500 drones and 24 "
    "cruise missiles overnight."
)


PASSAGES = [passage("a", [KYIV, ASSAULT]), passage("b", [PUTIN, STRIKES])]


def test_the_sentence_counting_the_asked_thing():
    q = "How many sites across Ukraine were struck in the overnight attack into Thursday?"
    assert answering_sentence(q, PASSAGES) == (2, STRIKES)
    # The same sentence counts drones too; asked about drones it answers with 84.
    q2 = "How many drones did Ukraine say it destroyed overnight into Thursday?"
    assert answering_sentence(q2, PASSAGES) == (2, STRIKES)


def test_a_weekday_the_question_does_not_hold():
    q = "On which day of the week did Putin make his remarks about the prospects for peace?"
    assert answering_sentence(q, PASSAGES) == (2, PUTIN)
    # "Thursday" is in the question: the sentence that repeats it gives no new day.
    q2 = "Which day of the week follows the overnight attack into Thursday?"
    assert answering_sentence(q2, [passage("c", [STRIKES])]) is None


def test_no_sentence_for_unanswerable_counts():
    # Nothing counts soldiers; the Altius drones are never counted.
    assert answering_sentence("How many soldiers does Ukraine's army have?", PASSAGES) is None
    q = "How many Altius drones will Ukraine receive, and when will they be delivered?"
    assert answering_sentence(q, PASSAGES) is None
    # A number echoed from the question is no answer to it.
    q2 = "How many of Russia's 24 cruise missiles did Ukraine shoot down?"
    assert answering_sentence(q2, PASSAGES) is None


def test_other_question_forms_are_left_to_the_model():
    assert answering_sentence("Who did Putin mock?", PASSAGES) is None
    assert answering_sentence("Which countries refused to send troops?", PASSAGES) is None


def test_equally_good_sentences_with_different_answers_give_none():
    other = STRIKES.replace("17 sites", "19 sites")
    q = "How many sites across Ukraine were struck in the overnight attack into Thursday?"
    assert answering_sentence(q, [passage("a", [STRIKES]), passage("b", [other])]) is None
    # Two reports giving the same count are one answer: the first is quoted.
    assert answering_sentence(q, [passage("a", [STRIKES]), passage("b", [STRIKES])]) == (
        1,
        STRIKES,
    )


LEYEN = (
    "European Commission President Ursula von der Leyen called this a “watershed moment,” "
    "noting that Europe must ensure its own security."
)
PACKAGE = "EU leaders endorsed a £670 billion defence package aimed at European security."


def test_a_question_asking_for_someones_words_gets_the_sentence_quoting_them():
    q = "What phrase did Ursula von der Leyen use to describe the EU defence package?"
    assert asks_for_wording(q) and asks_for_wording("How did Hegseth describe the claims?")
    assert not asks_for_wording("Which countries refused to send troops?")
    assert answering_sentence(q, [passage("a", [PACKAGE, LEYEN]), *PASSAGES]) == (1, LEYEN)
    assert has_quotation(LEYEN) and not has_quotation(PACKAGE)
    # Nobody's words on the subject are quoted: nothing to add.
    assert answering_sentence(q, [passage("a", [PACKAGE])]) is None


HEALEY = (
    "Speaking to the BBC during a visit to Kyiv, Healey said Ukraine’s allies were ready to "
    '"help make the skies safe, to make the seas safe, and to secure the land" once peace is '
    "achieved."
)
SUPPORT = (
    "The United Kingdom and its international partners are prepared to support Ukraine, "
    "British Defence Secretary John Healey has said."
)


def test_what_someone_said_is_asked_for_in_their_words():
    q = (
        "What three areas did Healey say Ukraine's allies would help make safe or secure once "
        "peace is reached?"
    )
    assert asks_for_wording(q) and asks_for_wording("What did Zelensky tell EU leaders?")
    assert not asks_for_wording("What did the UK pass on to Ukraine?")
    assert answering_sentence(q, [passage("a", [SUPPORT]), passage("b", [HEALEY])]) == (2, HEALEY)
    # The draft that paraphrased something else leaves the asked words out.
    assert incomplete(q, SUPPORT + " [1]") and not incomplete(q, HEALEY + " [2]")


ASSETS = (
    "This explains why we passed £1 billion ($1.24 billion) in confiscated Russian assets "
    "today, which were then recycled into military supplies and equipment for Ukraine."
)
ALTIUS = "The drones represent a £30 million investment supported by the International Fund."


def test_an_amount_asked_in_two_currencies():
    q = (
        "How much in confiscated Russian assets did the UK pass on for Ukraine's military "
        "supplies, in pounds and in dollars?"
    )
    assert incomplete(q, "The UK passed £1 billion in confiscated Russian assets [1].")
    assert not incomplete(q, "The UK passed £1 billion ($1.24 billion) [1].")
    assert not incomplete("How much was the Altius deal worth?", "£30 million [1].")
    assert answering_sentence(q, [passage("a", [ALTIUS]), passage("b", [ASSETS])]) == (2, ASSETS)
    # A sentence with pounds only is not the one that has the dollars.
    assert (
        answering_sentence(q, [passage("a", [ALTIUS, ASSETS.replace(" ($1.24 billion)", "")])])
        is None
    )


def _from(outlet: str | None, doc_id: str, sentences: list[str]):
    p = passage(doc_id, sentences)
    return replace(p, document=replace(p.document, outlet=outlet))


ALTIUS_DEAL = (
    "The UK has entered into an agreement with Anduril Industries to supply Ukraine with "
    "advanced attack drones, namely the Altius 600m and Altius 700m systems."
)
EU_PACKAGE = "EU leaders endorsed a £670 billion defence package aimed at European security."
BBC_DEAL = "The UK announced a substantial missile deal and will provide attack drones."


def test_the_outlet_of_a_report_is_read_from_its_header():
    q = (
        "Which news agency is credited as the source of the report on the Altius drone deal "
        "and the EU defence package?"
    )
    noah = _from("Noah Wire Services", "003", [ALTIUS_DEAL, EU_PACKAGE])
    bbc = _from("BBC", "004", [BBC_DEAL, EU_PACKAGE])
    assert outlet_answer(q, [bbc, noah]) == (2, "The report is from Noah Wire Services.")
    # Only the article that names the Altius deal is the report meant; without it, no answer.
    assert outlet_answer(q, [bbc]) is None
    # An article of unknown outlet names none.
    assert outlet_answer(q, [_from(None, "003", [ALTIUS_DEAL, EU_PACKAGE])]) is None
    # Other questions are left to the model.
    assert outlet_answer("Which company will supply the Altius drones?", [noah]) is None


CBS = (
    "Trump stated his commitment to a peace agreement between Russia and Ukraine to CBS News on "
    "Wednesday, saying, \u201cI think we\u2019re going to get it all straightened out.\u201d"
)
KYIV_BBC = (
    "Speaking to the BBC during a visit to Kyiv on the eve of a high-level meeting in Paris, "
    "Healey said Ukraine\u2019s allies were ready to help."
)


def test_the_news_organisation_someone_spoke_to():
    q = "To which television network did Trump say he was committed to a Russia-Ukraine peace deal?"
    assert asks_for_media(q) and asks_for_media("Which newspaper did Starmer write for?")
    # A power station, the English Channel: not news organisations.
    assert not asks_for_media("Which power station was hit?")
    assert not asks_for_media("What channel did the talks go through?")
    assert answering_sentence(q, [passage("a", [SUPPORT, KYIV_BBC]), passage("b", [CBS])]) == (
        2,
        CBS,
    )
    # The network must be named: the same sentence without it answers nothing.
    assert answering_sentence(q, [passage("a", [CBS.replace("to CBS News ", "")])]) is None
    # A draft naming no network leaves out what was asked.
    assert incomplete(q, "Trump said he was committed to a peace deal [1].")
    assert not incomplete(q, "He told CBS News [1].")
    # A network the question already names is no answer to which one it was.
    q2 = "Which news agency besides the BBC did Healey speak to in Kyiv?"
    assert answering_sentence(q2, [passage("a", [KYIV_BBC])]) is None
