import codecs
import re
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
    # A tiny page: in its default mode trafilatura would swap in the whole page's text here,
    # site header ("Menu") included; such pages are read in its precision mode.
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
    assert article.text == "Museum opens\n\nIt opened & drew 4,000 visitors.\n"
    assert "Menu" not in article.text and "track()" not in article.text
    assert body_text(article) == "It opened & drew 4,000 visitors."


def test_tiny_html_page_keeps_one_paragraph_a_line():
    # Whole-page text would glue the headline, the paragraphs and the related link into one line.
    page = (
        "<html><head><title>Gazette | Museum</title></head><body><article>"
        "<h1>Lighthouse museum opens</h1><p>The town opened a lighthouse museum on Saturday.</p>"
        '<div class="related">Related: <a href="/r">Harbour wall repaired</a></div>'
        "<p>The mayor said 4,000 visitors came.</p></article></body></html>"
    )
    article = article_from_upload(page.encode(), "museum.html")
    assert article.text == (
        "Lighthouse museum opens\n\n"
        "The town opened a lighthouse museum on Saturday.\n"
        "The mayor said 4,000 visitors came.\n"
    )
    assert article.title == "Lighthouse museum opens"

    # A page wrapped whole in a <form> (server-side web forms): the form is not furniture.
    wrapped = page.replace("<article>", '<form id="page">').replace("</article>", "</form>")
    assert article_from_upload(wrapped.encode(), "museum.html").text == article.text


# A news page as saved from a browser (invented prose): furniture marked by tags (nav, header,
# footer) and furniture that no tag marks (a cookie banner and related links in plain divs,
# reader comments), which only block scoring tells from the story.
PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Pier to close for repairs | The Bay Courier</title>
<meta property="og:site_name" content="The Bay Courier">
<link rel="canonical" href="https://news.example.org/pier-to-close">
<meta property="og:url" content="https://news.example.org/pier-to-close">
<script>window.dataLayer = [];</script><style>.cookie-banner { position: fixed }</style>
</head><body>
<div class="cookie-banner">We use cookies to improve your experience. <button>Accept all</button>
<a href="/privacy">Manage preferences</a></div>
<header><a href="/">The Bay Courier</a><nav><ul><li><a href="/news">News</a></li>
<li><a href="/sport">Sport</a></li><li><a href="/weather">Weather</a></li></ul></nav></header>
<main><article>
<h1>Pier to close for repairs</h1>
<p>The harbour trust said on Tuesday that the old pier would close for repairs in May, two
years earlier than planned.</p>
<p>Engineers found corrosion in four of the steel piles during a routine survey carried out
over the winter months.</p>
<div class="related"><h2>Related stories</h2><ul><li><a href="/a">Ferry timetable changes for
the summer</a></li><li><a href="/b">Beach huts to get a fresh coat of paint</a></li></ul></div>
<p>The trust expects the work to cost about &pound;1.8m &amp; to take most of the summer, with
the kiosk moving to the promenade.</p>
<p>Anglers who fish from the pier every weekend said they would ask the trust to keep the lower
deck open on Sundays.</p>
</article>
<section id="comments"><h3>2 comments</h3>
<div class="comment"><span class="author">harbourwatcher</span><p>About time, the railings have
been rusty for years and nobody listened.</p></div>
<div class="comment"><span class="author">dee_k</span><p>Will the car park stay open while the
work goes on?</p></div>
</section></main>
<footer><p>&copy; 2026 Bay Courier Media. All rights reserved.</p><a href="/contact">Contact
us</a></footer>
</body></html>"""
PAGE_PARAGRAPHS = [
    "The harbour trust said on Tuesday that the old pier would close for repairs in May, two "
    "years earlier than planned.",
    "Engineers found corrosion in four of the steel piles during a routine survey carried out "
    "over the winter months.",
    "The trust expects the work to cost about £1.8m & to take most of the summer, with the kiosk "
    "moving to the promenade.",
    "Anglers who fish from the pier every weekend said they would ask the trust to keep the lower "
    "deck open on Sundays.",
]
PAGE_FURNITURE = [
    "cookies",
    "Accept all",
    "Manage preferences",
    "Weather",
    "Related stories",
    "Ferry timetable",
    "Beach huts",
    "comments",
    "harbourwatcher",
    "railings",
    "car park",
    "All rights reserved",
    "Contact",
    "dataLayer",
    "position: fixed",
]


def test_html_page_keeps_the_story_and_drops_its_furniture(tmp_path):
    page = tmp_path / "pier.html"
    page.write_text(PAGE, encoding="utf-8")
    article = load_article(page)
    assert article.title == "Pier to close for repairs"  # the headline, not "... | The Bay Courier"
    assert article.outlet == "The Bay Courier"
    assert article.text == "Pier to close for repairs\n\n" + "\n".join(PAGE_PARAGRAPHS) + "\n"
    for furniture in PAGE_FURNITURE:
        assert furniture not in article.text, furniture
    # Body spans are offsets into the stored text: one per paragraph, the headline apart.
    assert article.headline is not None
    assert article.text[article.headline.start : article.headline.end] == article.title
    assert [article.text[s.start : s.end] for s in article.body] == PAGE_PARAGRAPHS
    # An upload of the same page stores the same text, so the same content hash.
    uploaded = article_from_upload(PAGE.encode("utf-8"), "pier.html")
    assert uploaded.text == article.text and uploaded.content_hash == article.content_hash
    assert (uploaded.title, uploaded.outlet) == (article.title, article.outlet)


def test_html_chunk_and_sentence_offsets_point_into_the_stored_text(tmp_path):
    from rag.ingest.chunking import article_sentences, chunk_article

    article = article_from_upload(PAGE.encode("utf-8"), "pier.html")
    sentences = article_sentences(article)
    assert [article.text[s.start : s.end] for s in sentences] == PAGE_PARAGRAPHS
    chunks = chunk_article(article)
    assert chunks
    for chunk in chunks:
        assert article.text[chunk.start : chunk.end].startswith(
            article.text[chunk.sentences[0].start : chunk.sentences[0].end]
        )
        for s in chunk.sentences:
            assert article.text[s.start : s.end] in chunk.text
    # A quote a citation would carry is found at its offsets, as a reader sees it.
    quote = "£1.8m & to take most of the summer"
    start = article.text.index(quote)
    assert article.text[start : start + len(quote)] == quote


def test_html_that_quotes_markup_stays_text():
    page = (
        "<html><head><title>Filter flaw found in comment widget</title></head><body>"
        "<script>alert('page script')</script><article><h1>Filter flaw found in comment widget</h1>"
        "<p>Researchers showed that a comment reading &lt;script&gt;alert(1)&lt;/script&gt; ran "
        "in readers' browsers, as did &lt;img src=x onerror=alert(2)&gt; in a profile name.</p>"
        '<img src="x" onerror="alert(3)"><p onclick="alert(4)">The vendor wrote &amp;lt;b&amp;gt; '
        "where it meant a literal tag, and pr&amp;#233;cis for an encoded accent, on a page that "
        "also mentioned R&amp;D, Q&amp;A and &amp;amp; as they are.</p>"
        "<p>It said a fix would ship within a week, that no customer data had been taken and that "
        "users should update the widget as soon as the release is out.</p>"
        "<script>document.write('<p>written by script</p>')</script></article></body></html>"
    )
    article = article_from_upload(page.encode("utf-8"), "flaw.html")
    text = article.text
    # Script elements and event-handler attributes never reach the text...
    for code in ("page script", "alert(3)", "alert(4)", "written by script", "document.write"):
        assert code not in text, code
    # ...while markup the article quotes is kept as the characters the page shows, and text
    # escaped twice on the page is unescaped once, like a browser does, never into live markup.
    assert "a comment reading <script>alert(1)</script> ran" in text
    assert "as did <img src=x onerror=alert(2)> in a profile name" in text
    assert "The vendor wrote &lt;b&gt; where it meant a literal tag" in text
    assert "and pr&#233;cis for an encoded accent" in text
    assert "R&D, Q&A and &amp; as they are." in text
    assert re.findall(r"<[^>]*>", text) == [
        "<script>",
        "</script>",
        "<img src=x onerror=alert(2)>",
    ]


def test_html_falls_back_to_tag_rules_when_block_scoring_loses_the_story():
    import trafilatura

    from rag.ingest.html_text import html_to_article

    # A CMS that names the story's container like a comment section: trafilatura, told to leave
    # comments out, drops the whole story and keeps the menu.
    paragraphs = PAGE_PARAGRAPHS
    page = (
        "<html><head><title>Pier to close</title></head><body>"
        '<div class="menu"><a href="/">Home</a> <a href="/news">News</a></div>'
        '<h1>Pier to close</h1><div id="comments">'
        + "".join(f"<p>{p.replace('&', '&amp;')}</p>" for p in paragraphs)
        + "</div></body></html>"
    )
    scored = trafilatura.bare_extraction(page, with_metadata=True, include_comments=False)
    assert scored is not None and paragraphs[0] not in (scored.text or "")
    article = html_to_article(page)
    assert article.title == "Pier to close"
    for p in paragraphs:
        assert p in article.text.splitlines()

    # Not a document to trafilatura (a text file saved as .html, a bare fragment): tag rules.
    assert html_to_article("Pier to close\n\nThe pier shuts in May.\n").text == (
        "Pier to close\n\nThe pier shuts in May.\n"
    )
    assert html_to_article(f"<p>{paragraphs[0]}</p>").text == paragraphs[0] + "\n"
    # A script-only page has no article by either reading (the <noscript> notice is furniture),
    # so the upload is refused.
    shell = "<html><head><title>App</title></head><body><noscript>Enable JavaScript</noscript>"
    shell += "<script>render()</script></body></html>"
    with pytest.raises(BadDocument, match="no article text"):
        article_from_upload(shell.encode(), "app.html")


def test_html_extraction_never_touches_the_network(monkeypatch):
    import socket

    from rag.ingest.html_text import html_to_article

    def refuse(*args, **kwargs):
        raise AssertionError("network use during HTML extraction")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    # PAGE names its canonical URL; nothing may be fetched or resolved from it.
    assert html_to_article(PAGE).title == "Pier to close for repairs"


def test_long_html_articles_are_kept_whole():
    from rag.ingest.html_text import html_to_article

    paragraphs = [
        f"Item {i} of the budget review found that spending on roads, libraries and parks would "
        f"stay at last year's level of {i}.2 million until the audit ends."
        for i in range(120)
    ]
    page = "<html><head><title>Budget review</title></head><body><article><h1>Budget review</h1>"
    page += "".join(f"<p>{p}</p>" for p in paragraphs) + "</article></body></html>"
    text = html_to_article(page).text
    assert len(text) > 15_000
    assert text == "Budget review\n\n" + "\n".join(paragraphs) + "\n"


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
