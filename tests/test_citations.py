from rag.answer.citations import is_abstention, normalise_markers


def test_markers_normalised_and_out_of_range_dropped():
    text, cited = normalise_markers("Germany refused [2, 1]. Italy too [3] [9].", 3)
    assert text == "Germany refused [2][1]. Italy too [3]."
    assert cited == [2, 1, 3]


def test_marker_ranges_and_duplicates():
    text, cited = normalise_markers("A fact [1-3][2].", 4)
    assert cited == [1, 2, 3]
    assert text == "A fact [1][2][3][2]."


def test_abstention_phrases():
    assert is_abstention("The articles don't say.")
    assert is_abstention("The passages do not mention how many troops France will send.")
    assert not is_abstention("Germany and Italy ruled out troops [1].")
