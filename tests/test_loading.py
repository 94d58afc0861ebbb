import codecs
from pathlib import Path

import pytest

from rag.errors import BadDocument, NewsdeskError, UnsupportedDocument
from rag.ingest.loading import (
    DOC_ID_RE,
    article_from_upload,
    decode_text,
    doc_id_for,
    find_article_files,
    load_article,
    parse_article,
    read_text_file,
)

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def body_text(article) -> str:
    return "\n".join(article.text[s.start : s.end] for s in article.body)


def test_headline_detected_only_when_first_line_is_one():
    with_headline = load_article(SEEDS / "001_c6956a57b30c8ba9.txt")
    assert with_headline.title == "UK and Allies Ready to Support Ukraine Amidst Ongoing War"
    assert with_headline.headline is not None
    assert not body_text(with_headline).startswith("UK and Allies Ready")

    without = load_article(SEEDS / "000_0ab7ffefb9095089.txt")
    assert without.headline is None
    assert body_text(without).startswith("The United Kingdom and its international partners")
    assert without.title.startswith("The United Kingdom")


@pytest.mark.parametrize(
    ("name", "outlet"),
    [
        ("000_0ab7ffefb9095089.txt", "BBC"),
        ("002_e7c760b7ca99449a.txt", "BBC News"),
        ("003_bd8b585c81707f01.txt", "Noah Wire Services"),
        ("004_284b451b6441a053.txt", "BBC"),
    ],
)
def test_outlet_from_source_lines(name, outlet):
    assert load_article(SEEDS / name).outlet == outlet


def test_boilerplate_and_trailing_junk_dropped_offsets_kept():
    a = load_article(SEEDS / "000_0ab7ffefb9095089.txt")
    body = body_text(a)
    assert "SMS/" not in body and "Source:" not in body
    raw = (SEEDS / "000_0ab7ffefb9095089.txt").read_text(encoding="utf-8")
    assert a.text == raw
    for span in a.body:
        assert raw[span.start : span.end] == a.text[span.start : span.end]
        assert raw[span.start : span.end].strip() == raw[span.start : span.end]

    d = load_article(SEEDS / "004_284b451b6441a053.txt")
    assert "Read the full article" not in body_text(d)
    assert "Read More" not in body_text(d)


def test_runs_of_blank_lines_are_not_body():
    text = "Headline Here\n\n\n\nFirst sentence here. Second one.\n\n\n\n\nSOURCE: Wire\n\n\n"
    a = parse_article(text, "x", "x.txt")
    assert a.title == "Headline Here"
    assert a.outlet == "Wire"
    assert [a.text[s.start : s.end] for s in a.body] == ["First sentence here. Second one."]


def test_crlf_offsets_point_into_original(tmp_path):
    p = tmp_path / "crlf.txt"
    p.write_bytes(b"A Headline\r\nBody line one. Two.\r\nSource: Wire\r\n")
    a = load_article(p)
    span = a.body[0]
    assert a.text[span.start : span.end] == "Body line one. Two."
    assert p.read_bytes().decode()[span.start : span.end] == "Body line one. Two."


def test_non_utf8_file_is_read_not_refused(tmp_path):
    p = tmp_path / "latin.txt"
    p.write_bytes("Caf\xe9 owners said prices rose.\n".encode("cp1252"))
    assert "Café" in read_text_file(p)


def test_bad_paths_give_clear_errors(tmp_path):
    with pytest.raises(NewsdeskError, match="no such file or directory"):
        find_article_files([tmp_path / "missing"])
    bad = tmp_path / "a.pdf"
    bad.write_bytes(b"%PDF")
    with pytest.raises(NewsdeskError, match="unsupported file type"):
        find_article_files([bad])


def test_folder_listing_is_sorted_and_filtered(tmp_path):
    (tmp_path / "b.txt").write_text("x")
    (tmp_path / "a.md").write_text("x")
    (tmp_path / "c.pdf").write_text("x")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "d.txt").write_text("x")
    assert [p.name for p in find_article_files([tmp_path])] == ["a.md", "b.txt"]


def test_uploads_get_safe_ids_and_refuse_paths():
    import pytest

    from rag.errors import BadDocument
    from rag.ingest.loading import article_from_upload, doc_id_for

    story = b"Harbour museum opens\n\nThe museum opened on Saturday.\n\nSource: Gazette\n"
    article = article_from_upload(story, "harbour museum (v2).txt")
    assert article.doc_id == "harbour-museum-v2"
    assert article.outlet == "Gazette" and article.title == "Harbour museum opens"
    assert article.text == story.decode()
    assert doc_id_for("a..b") == "a.b" and doc_id_for("...").startswith("doc-")
    for name in ("../x.txt", "a/b.txt", "a\\b.txt", ".env", ""):
        with pytest.raises(BadDocument):
            article_from_upload(story, name)
    with pytest.raises(BadDocument, match="unsupported file type"):
        article_from_upload(story, "x.pdf")
    with pytest.raises(BadDocument, match="invalid document id"):
        article_from_upload(story, "x.txt", doc_id="a..b")
    with pytest.raises(BadDocument, match="empty"):
        article_from_upload(b"  \n", "x.txt")
    raw = article_from_upload(story, None, title="Museum")
    assert raw.doc_id == "Museum" and raw.source_file == "Museum.txt"


def test_html_files_become_text_with_title_and_outlet(tmp_path):
    from rag.ingest.loading import load_article

    page = tmp_path / "page.html"
    page.write_text(
        "<html><head><title>Site | Story</title>"
        '<meta property="og:site_name" content="The Gazette"></head>'
        "<body><header>Menu</header><h1>Museum opens</h1><p>It opened &amp; drew 4,000 "
        "visitors.</p><script>track()</script><footer>(c) 2026</footer></body></html>",
        encoding="utf-8",
    )
    article = load_article(page)
    assert article.title == "Museum opens" and article.outlet == "The Gazette"
    assert "It opened & drew 4,000 visitors." in article.text
    assert "Menu" not in article.text and "track()" not in article.text
    body = " ".join(article.text[s.start : s.end] for s in article.body)
    assert "4,000 visitors" in body


ARTICLE = "Harbour museum reopens\n\nThe museum reopened on Monday after a £7.3m refit.\n"


@pytest.mark.parametrize(
    "data",
    [
        ARTICLE.encode("utf-8"),
        codecs.BOM_UTF8 + ARTICLE.encode("utf-8"),
        ARTICLE.encode("utf-16"),  # with its byte-order mark
        codecs.BOM_UTF16_BE + ARTICLE.encode("utf-16-be"),
        ARTICLE.encode("cp1252"),
    ],
)
def test_text_in_any_common_encoding_reads_the_same(data):
    assert decode_text(data) == ARTICLE


def test_html_is_read_in_the_charset_it_declares():
    page = '<html><head><meta charset="koi8-r"><title>t</title></head><body>Музей</body></html>'
    assert "Музей" in decode_text(page.encode("koi8-r"), html=True)


@pytest.mark.parametrize(
    "data",
    [
        b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4,  # an executable renamed .txt
        bytes((i * 7919) % 256 for i in range(4000)),  # random-looking bytes
        ARTICLE.encode("utf-16-le"),  # UTF-16 without a byte-order mark: NULs everywhere
    ],
)
def test_bytes_that_are_not_text_are_refused(data):
    with pytest.raises(UnsupportedDocument, match="not text"):
        decode_text(data)
    with pytest.raises(UnsupportedDocument, match="not text"):
        article_from_upload(data, "story.txt")


def test_names_in_other_scripts_get_distinct_stable_ids():
    names = ["Музей открылся", "Клуб выиграл кубок", "новости.txt", "体育.txt", "Отчёт 2024"]
    ids = [doc_id_for(n) for n in names]
    assert len(set(ids)) == len(ids)
    assert ids == [doc_id_for(n) for n in names]  # the same name, the same id: re-upload replaces
    assert all(DOC_ID_RE.fullmatch(i) for i in ids)
    assert doc_id_for("Café opens") == "Cafe-opens"  # accents are dropped, not hashed
    titled = [article_from_upload(b"Some words.", None, title=t).doc_id for t in names[:2]]
    assert titled[0] != titled[1]


def test_metadata_that_reaches_prompts_is_bounded(tmp_path):
    from rag.config import Settings
    from rag.llm.prompts import HEADER_MAX, PromptSet

    long_source = "Source: " + "Very Long Outlet Name " * 300
    article = parse_article(f"Headline here\n\nA sentence of body.\n{long_source}\n", "x", "x.txt")
    assert article.outlet and len(article.outlet) <= 200
    with pytest.raises(BadDocument, match="longer than 200"):
        article_from_upload(b"Some words.", "x.txt", outlet="O" * 5000)
    prompts = PromptSet.load(Settings().prompts_dir)
    header = prompts.render_passage(1, "Outlet " * 1000, "Title " * 1000, "Body.")
    assert len(header) < 2 * HEADER_MAX + 20
