"""The reading room in a real browser: headless Chromium, driven by Selenium, against the real
app on a real uvicorn (the real engine and store; the real model for the one question asked).

Without Chromium, its driver or Selenium the browser tests are skipped with the reason, except
where `CI` is set: there they fail, so a CI run never passes without having opened the page.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from conftest import SEEDS, live_server
from fastapi import Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, SecretStr

from api.app import create_app
from api.models import RedraftEvent, SourcesEvent, TokenEvent
from api.page import WEB_DIR
from api.streaming import sse
from rag.config import Settings
from rag.engine import Engine
from rag.schemas import (
    Answer,
    AnswerSentence,
    Citation,
    Conflict,
    ConflictClaim,
    SourcePassage,
    SourceSpan,
    Timings,
)

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

    from rag.index.embedding import Embedder

QUESTION = "Which countries refused to send troops to Ukraine?"
KEY = "reading-room-key"
HOSTILE_STORY = (
    'Harbour museum <img src=x onerror="window.__ran=1"> opens its doors\n\n'
    "The town opened a lighthouse museum on Saturday. <script>window.__ran = 2;</script> "
    "The museum cost 3 million pounds. A caption read <b onmouseover=alert(1)>bold</b>, "
    'and a link read <a href="javascript:window.__ran=3">here</a>.\n\n'
    "Source: Harbour Gazette\n"
)
SHOT_SIZE = (1280, 900)


# ---- the page's files, no browser needed -------------------------------------------------------


def test_the_page_is_served_offline_and_without_the_key(tmp_path: Path) -> None:
    """No file of the page fetches anything from another host, and none writes data as HTML;
    the page and its files load without the key while the API still needs it."""
    for path in WEB_DIR.iterdir():
        source = path.read_text(encoding="utf-8")
        assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", source), path
        assert not re.search(r"""url\(\s*["']?(?:https?:)?//|@import""", source), path
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, (path.name, sink)
    settings = Settings(data_dir=tmp_path / "data", api_key=SecretStr(KEY))
    engine = Engine(settings)
    with live_server(create_app(settings, engine=engine)) as url:
        page = httpx.get(f"{url}/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        for name in ("app.js", "style.css"):
            r = httpx.get(f"{url}/static/{name}")
            assert r.status_code == 200 and r.headers["x-content-type-options"] == "nosniff"
        assert httpx.get(f"{url}/static/%2e%2e/page.py").status_code == 404
        assert httpx.get(f"{url}/v1/documents").status_code == 401
        assert httpx.get(f"{url}/docs").status_code == 401
        spec = httpx.get(f"{url}/openapi.json", headers={"Authorization": f"Bearer {KEY}"})
        assert "/" not in spec.json()["paths"]


# ---- the browser -------------------------------------------------------------------------------


def _chromium() -> tuple[str, str]:
    """Chromium and its driver, or skip (fail under CI) saying what is missing."""
    missing = []
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("Selenium (pip install -e '.[dev]')")
    browser = next(
        filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None
    )
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        missing.append("Chromium and its driver (apt-get install chromium chromium-driver)")
    if missing:
        reason = "browser tests need " + " and ".join(missing)
        if "CI" in os.environ:
            pytest.fail(f"{reason}; CI is set, so they may not be skipped")
        pytest.skip(reason)
    return browser, driver  # type: ignore[return-value]


@pytest.fixture(scope="module")
def driver() -> Iterator[WebDriver]:
    browser, chromedriver = _chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={SHOT_SIZE[0]},{SHOT_SIZE[1]}",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(options=options, service=Service(chromedriver))
    chrome.set_script_timeout(30)
    try:
        yield chrome
    finally:
        chrome.quit()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


def wait_for(
    driver: WebDriver,
    condition: Callable[[WebDriver], Any],
    timeout: float = 30,
    poll: float = 0.05,
) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=poll).until(lambda d: condition(d))


def js(driver: WebDriver, script: str, *args: object) -> Any:
    return driver.execute_script(script, *args)


def reader_data(driver: WebDriver, name: str) -> str | None:
    """What the reader shows (`docId`) and how many articles it has opened (`opened`)."""
    return js(driver, f"return document.getElementById('reader').dataset.{name} ?? null")


def page_errors(driver: WebDriver) -> list[str]:
    """Script errors the page logged (a refused request, logged by the browser too, is not one)."""
    return [
        e["message"]
        for e in driver.get_log("browser")
        if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]
    ]


def fits_a_phone(driver: WebDriver, shot: Path | None = None) -> bool:
    """Lay the page out at 375 CSS pixels wide: nothing may stick out sideways."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 375, "height": 812, "deviceScaleFactor": 1, "mobile": True},
    )
    try:
        time.sleep(0.2)
        if shot is not None:
            driver.save_screenshot(str(shot))
        return js(driver, "return document.documentElement.scrollWidth") <= 375
    finally:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def highlight_in_view(driver: WebDriver) -> bool:
    return js(
        driver,
        """const m = document.getElementById('highlight').getBoundingClientRect();
           const r = document.getElementById('reader-text').getBoundingClientRect();
           return m.height > 0 && m.top >= Math.max(r.top, 0) - 1
               && m.top < Math.min(r.bottom, window.innerHeight);""",
    )


# ---- asking and reading (the real model) -------------------------------------------------------


@dataclass
class Asked:
    url: str
    sources_ms: float
    answer_ms: float
    draft_opacity: float


@pytest.fixture(scope="module")
def asked(driver: WebDriver, seeded_engine: Engine, shots: Path) -> Iterator[Asked]:
    """The README's example question, asked once by keyboard in the page: an answer costs the
    model tens of seconds here, so both tests below read this one."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    seeded_engine.warm_up()  # as `newsdesk serve` does before it listens: the times are a server's
    with live_server(create_app(engine=seeded_engine)) as url:
        driver.get(f"{url}/")
        wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#doc-list li"))
        box = driver.find_element(By.ID, "question")
        box.send_keys(QUESTION)
        box.send_keys(Keys.ENTER)
        wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#source-list li"))
        # The draft streams dimmed while the model writes.
        wait_for(
            driver,
            lambda d: js(d, "return document.getElementById('draft').textContent"),
            timeout=180,
        )
        opacity = float(
            js(driver, "return getComputedStyle(document.getElementById('draft')).opacity")
        )
        driver.save_screenshot(str(shots / "draft.png"))
        wait_for(
            driver,
            lambda d: js(d, "return document.getElementById('answer').dataset.state") == "done",
            timeout=300,
        )
        timings = js(driver, "return {...document.getElementById('timings').dataset}")
        driver.save_screenshot(str(shots / "answer.png"))
        print(
            f"\nthe page showed the sources after {int(timings['sourcesMs'])} ms and the "
            f"checked answer after {int(timings['answerMs'])} ms; screenshots in {shots}"
        )
        yield Asked(url, float(timings["sourcesMs"]), float(timings["answerMs"]), opacity)


@pytest.mark.slow
def test_asking_shows_sources_then_the_checked_answer(asked: Asked, driver: WebDriver) -> None:
    from selenium.webdriver.common.by import By

    assert asked.sources_ms < asked.answer_ms
    assert asked.draft_opacity < 1
    assert not driver.find_element(By.ID, "draft").text  # the draft gave way to the answer
    answer = driver.find_element(By.ID, "checked").text
    assert "Italy" in answer and re.search(r"\[\d+\]", answer), answer
    assert driver.find_elements(By.CSS_SELECTOR, "#checked button.cite")
    assert driver.find_elements(By.CSS_SELECTOR, "#citation-list li blockquote")
    assert not page_errors(driver)


@pytest.mark.slow
def test_a_citation_opens_its_article_with_the_quote_highlighted(
    asked: Asked, driver: WebDriver, shots: Path
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    def read_citation(button: WebElement) -> None:
        before = reader_data(driver, "opened")
        button.send_keys(Keys.ENTER)  # by keyboard, like a reader without a mouse
        wait_for(driver, lambda d: reader_data(d, "opened") != before)

    def check_highlight(span: dict[str, str]) -> str:
        text = httpx.get(f"{asked.url}/v1/documents/{span['docId']}").json()["text"]
        marked = js(driver, "return document.getElementById('highlight').textContent")
        before = js(driver, "return document.getElementById('highlight').previousSibling.data")
        start, end = int(span["start"]), int(span["end"])
        assert marked == text[start:end]
        assert before == text[:start]  # the exact offsets, not the first match of the words
        assert highlight_in_view(driver)
        return marked

    first = driver.find_element(By.CSS_SELECTOR, "#checked button.cite")
    n = first.get_attribute("data-n")
    item = driver.find_element(By.CSS_SELECTOR, f'#citation-list li[data-n="{n}"]')
    quote = js(driver, "return arguments[0].querySelector('blockquote').textContent", item)
    read_citation(first)
    assert check_highlight(js(driver, "return {...arguments[0].dataset}", item)) == quote
    assert js(driver, "return document.activeElement.id") == "reader-title"
    driver.save_screenshot(str(shots / "article.png"))

    # A near-duplicate report states the same claim: one click shows it there.
    others = driver.find_elements(By.CSS_SELECTOR, "#reader-also-list button")
    for other in others[:1]:
        span = js(driver, "return {...arguments[0].dataset}", other)
        read_citation(other)
        check_highlight(span)
    assert fits_a_phone(driver, shots / "phone.png")
    assert not page_errors(driver)


# ---- the library and the key (no model) --------------------------------------------------------


@pytest.fixture(scope="module")
def library_engine(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Engine:
    """Its own store, so uploads and deletes leave the shared one alone; the model never loads.
    Two articles are enough for a library, and embedding more would only cost time. Any upload
    over 256 bytes is queued as a job, so the page follows one as it would a long article."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("web") / "data", upload_job_bytes=256)
    engine = Engine(settings)
    engine.__dict__["embedder"] = embedder
    engine.ingest(sorted(SEEDS.glob("*.txt"))[:2])
    return engine


def test_an_uploaded_script_is_shown_as_text_and_runs_nothing(
    driver: WebDriver, library_engine: Engine, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    def doc_item() -> WebElement | None:
        found = driver.find_elements(By.CSS_SELECTOR, '#doc-list li[data-doc-id="hostile"]')
        return found[0] if found else None

    with live_server(create_app(engine=library_engine)) as url:
        driver.get(f"{url}/")
        wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#doc-list li"))
        seeds = len(driver.find_elements(By.CSS_SELECTOR, "#doc-list li"))
        # Dropped on the drop zone, as a person would drag it from their files.
        js(
            driver,
            """const dt = new DataTransfer();
               dt.items.add(new File([arguments[0]], 'hostile.txt', {type: 'text/plain'}));
               document.getElementById('drop-zone').dispatchEvent(
                   new DragEvent('drop', {dataTransfer: dt, bubbles: true, cancelable: true}));""",
            HOSTILE_STORY,
        )
        wait_for(driver, lambda d: doc_item() is not None)
        upload = driver.find_element(By.CSS_SELECTOR, "#uploads li")
        assert upload.get_attribute("data-state") == "done"
        assert "Added" in upload.text and "passages" in upload.text
        followed = "return performance.getEntriesByType('resource').map(e => e.name)"
        assert any("/v1/jobs/" in address for address in js(driver, followed))
        title = doc_item().find_element(By.CSS_SELECTOR, ".doc-title")
        assert js(driver, "return arguments[0].textContent", title).startswith(
            'Harbour museum <img src=x onerror="window.__ran=1">'
        )
        doc_item().find_element(By.XPATH, ".//button[text()='Read']").click()
        wait_for(driver, lambda d: reader_data(d, "docId") == "hostile")
        shown = js(driver, "return document.getElementById('reader-text').textContent")
        assert "<script>window.__ran = 2;</script>" in shown
        assert 'href="javascript:window.__ran=3"' in shown
        assert js(driver, "return document.querySelectorAll('#reader-text *').length") == 0
        driver.find_element(By.ID, "reader-text").click()  # clicking the text runs nothing
        assert js(driver, "return document.images.length + document.scripts.length") == 1
        assert js(driver, "return typeof window.__ran") == "undefined"
        assert fits_a_phone(driver)

        # Deleting asks first; cancelling keeps it.
        doc_item().find_element(By.XPATH, ".//button[text()='Delete']").click()
        wait_for(driver, lambda d: js(d, "return document.getElementById('confirm-dialog').open"))
        assert "hostile" in driver.find_element(By.ID, "confirm-text").text
        driver.find_element(By.ID, "confirm-cancel").click()
        assert doc_item() is not None
        doc_item().find_element(By.XPATH, ".//button[text()='Delete']").click()
        wait_for(driver, lambda d: js(d, "return document.getElementById('confirm-dialog').open"))
        driver.find_element(By.ID, "confirm-ok").click()
        wait_for(driver, lambda d: doc_item() is None)
        assert len(driver.find_elements(By.CSS_SELECTOR, "#doc-list li")) == seeds
        assert httpx.get(f"{url}/v1/documents/hostile").status_code == 404
        assert reader_data(driver, "docId") is None  # the reader let it go

        # An upload the API refuses shows the API's own message.
        wrong = tmp_path / "notes.pdf"
        wrong.write_bytes(b"%PDF-1.4 not an article")
        driver.find_element(By.ID, "upload").send_keys(str(wrong))
        wait_for(
            driver,
            lambda d: (
                d.find_element(By.CSS_SELECTOR, "#uploads li").get_attribute("data-state")
                == "failed"
            ),
        )
        refused = driver.find_element(By.CSS_SELECTOR, "#uploads li").text
        assert "unsupported file type .pdf" in refused, refused
        assert js(driver, "return typeof window.__ran") == "undefined"
        assert not page_errors(driver)


def _crafted_answers(engine: Engine) -> dict[str, list[tuple[str, BaseModel]]]:
    """Stream events for the answers the seeds do not produce on demand: a disagreement the
    system writes up, with a sentence the check removed, and a refusal with its reason. Their
    spans are real sentences of the store's articles, so the reader can open them."""
    spans = []
    for doc in engine.store.list_documents()[:2]:
        text = engine.store.document_text(doc.doc_id)
        end = re.search(r"[.!?](?=\s)", text).end()
        spans.append((doc, text[:end]))
    sides = [
        Citation(
            n=n,
            passage=n,
            doc_id=doc.doc_id,
            source_file=doc.source_file,
            title=doc.title,
            outlet=doc.outlet,
            chunk_id=f"{doc.doc_id}:0",
            start=0,
            end=len(quote),
            quote=quote,
            score=1.0,
            supported=True,
        )
        for n, (doc, quote) in enumerate(spans, 1)
    ]
    # The first side's sentence also stands in the second article (a near-duplicate report).
    sides[0].also_in = [SourceSpan(**sides[1].model_dump(include=set(SourceSpan.model_fields)))]
    sources = SourcesEvent(
        question="q",
        passages=[
            SourcePassage(**c.model_dump(include=set(SourcePassage.model_fields))) for c in sides
        ],
    )
    timings = Timings(retrieve_ms=1, generate_ms=1, total_ms=2)
    disagree = Answer(
        question="disagree",
        answer="The reports disagree on this [1][2].",
        answerable=True,
        citations=sides,
        timings=timings,
        model="crafted",
        dropped=["A sentence no passage supports [1]."],
        conflicts=[
            Conflict(
                kind="actor",
                topic="who spoke",
                claims=[
                    ConflictClaim(
                        value=f"value {c.n}",
                        n=c.n,
                        doc_id=c.doc_id,
                        outlet=c.outlet,
                        start=c.start,
                        end=c.end,
                        quote=c.quote,
                    )
                    for c in sides
                ],
            )
        ],
        sentences=[
            AnswerSentence(
                text="The reports disagree on this [1][2].",
                origin="conflict",
                citations=[1, 2],
                supported=None,
            )
        ],
    )
    refuse = Answer(
        question="refuse",
        answer="",
        answerable=False,
        citations=[],
        timings=timings,
        model="crafted",
        abstain_reason="unsupported_answer",
        dropped=["A guess the passages do not hold [2]."],
    )
    draft = [("token", TokenEvent(text="A draft [1].")), ("token", TokenEvent(text=" More."))]
    return {
        "disagree": [("sources", sources), *draft, ("answer", disagree)],
        "refuse": [("sources", sources), *draft, ("answer", refuse)],
    }


def test_disagreements_removed_sentences_and_refusals_are_shown(
    driver: WebDriver, library_engine: Engine
) -> None:
    """The answer fields the seeds do not produce on demand, from a crafted stream in the
    API's own event shapes; everything else on the page is the real app."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    crafted = _crafted_answers(library_engine)
    app = create_app(engine=library_engine)

    async def stream(request: Request) -> StreamingResponse:
        events = crafted[(await request.json())["question"]]
        return StreamingResponse(
            iter([sse(name, data) for name, data in events]), media_type="text/event-stream"
        )

    app.router.add_api_route("/v1/ask/stream", stream, methods=["POST"])
    app.router.routes.insert(0, app.router.routes.pop())  # ahead of the engine's route

    def ask(question: str) -> None:
        box = driver.find_element(By.ID, "question")
        box.clear()
        box.send_keys(question, Keys.ENTER)
        wait_for(
            driver,
            lambda d: js(d, "return document.getElementById('answer').dataset.state") == "done",
        )

    with live_server(app) as url:
        driver.get(f"{url}/")
        wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#doc-list li"))
        ask("disagree")
        note = driver.find_element(By.CSS_SELECTOR, '#checked .sentence[data-origin="conflict"]')
        background = js(driver, "return getComputedStyle(arguments[0]).backgroundColor", note)
        assert background not in ("", "rgba(0, 0, 0, 0)", "transparent")
        assert driver.find_element(By.ID, "origin-legend").is_displayed()
        sides = driver.find_elements(By.CSS_SELECTOR, "#conflict-list .side")
        claims = crafted["disagree"][-1][1].conflicts[0].claims
        assert [
            js(driver, "return arguments[0].querySelector('blockquote').textContent", s)
            for s in sides
        ] == [c.quote for c in claims]
        first, second = (s.rect for s in sides)
        assert first["y"] == second["y"] and first["x"] < second["x"]  # side by side
        sides[1].find_element(By.TAG_NAME, "button").click()
        wait_for(driver, lambda d: reader_data(d, "docId") == claims[1].doc_id)
        assert (
            js(driver, "return document.getElementById('highlight').textContent") == claims[1].quote
        )
        # The same claim in another report is one click from the cited one.
        driver.find_element(By.CSS_SELECTOR, '#checked button.cite[data-n="1"]').click()
        wait_for(driver, lambda d: reader_data(d, "docId") == claims[0].doc_id)
        driver.find_element(By.CSS_SELECTOR, "#reader-also-list button").click()
        wait_for(driver, lambda d: reader_data(d, "docId") == claims[1].doc_id)
        assert (
            js(driver, "return document.getElementById('highlight').textContent") == claims[1].quote
        )
        struck = driver.find_element(By.CSS_SELECTOR, "#dropped-list li")
        assert struck.find_element(By.TAG_NAME, "del").text == "A sentence no passage supports [1]."
        assert "no cited passage supports it" in struck.text
        assert fits_a_phone(driver)

        ask("refuse")
        assert driver.find_element(By.ID, "abstain").is_displayed()
        reason = driver.find_element(By.ID, "abstain-reason").text
        assert (
            driver.find_element(By.CSS_SELECTOR, "#abstain .abstain-title").text
            == "The articles don't say."
        )
        assert "no sentence of it was backed" in reason, reason
        assert not driver.find_elements(By.CSS_SELECTOR, "#conflict-list .side")
        assert (
            driver.find_element(By.CSS_SELECTOR, "#dropped-list del").text
            == "A guess the passages do not hold [2]."
        )
        assert not page_errors(driver)


def test_a_second_draft_replaces_the_first_in_the_draft_box(
    driver: WebDriver, library_engine: Engine
) -> None:
    """A `redraft` event clears the dimmed draft; the second draft streams in its place. The
    stream is crafted in the API's event shapes and holds before its answer, so the page can
    be read between the two."""
    import asyncio

    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    crafted = _crafted_answers(library_engine)
    sources, *_, (_, refuse) = crafted["refuse"]
    release = asyncio.Event()

    async def events():
        yield sse(*sources)
        yield sse("token", TokenEvent(text="A first try [1]."))
        yield sse("redraft", RedraftEvent(reason="model_declined"))
        yield sse("token", TokenEvent(text="A second try [2]."))
        await asyncio.wait_for(release.wait(), timeout=60)
        yield sse("answer", refuse)

    async def stream(request: Request) -> StreamingResponse:
        return StreamingResponse(events(), media_type="text/event-stream")

    async def go(request: Request) -> dict:
        release.set()
        return {}

    app = create_app(engine=library_engine)
    app.router.add_api_route("/v1/ask/stream", stream, methods=["POST"])
    app.router.add_api_route("/test/release", go, methods=["POST"])
    app.router.routes.insert(0, app.router.routes.pop())
    app.router.routes.insert(0, app.router.routes.pop())  # both ahead of the engine's routes

    with live_server(app) as url:
        driver.get(f"{url}/")
        wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#doc-list li"))
        box = driver.find_element(By.ID, "question")
        box.send_keys("anything", Keys.ENTER)
        draft = "return document.getElementById('draft').textContent"
        wait_for(driver, lambda d: js(d, draft) == "A second try [2].")
        status = driver.find_element(By.ID, "ask-status").text
        assert "writing another" in status, status
        httpx.post(f"{url}/test/release")
        wait_for(
            driver,
            lambda d: js(d, "return document.getElementById('answer').dataset.state") == "done",
        )
        assert driver.find_element(By.ID, "abstain").is_displayed()
        assert not page_errors(driver)


def test_the_page_asks_for_the_api_key_once_per_tab(
    driver: WebDriver, library_engine: Engine
) -> None:
    from selenium.webdriver.common.by import By

    def dialog_open(d: WebDriver) -> bool:
        return js(d, "return document.getElementById('key-dialog').open")

    def enter_key(key: str) -> None:
        field = driver.find_element(By.ID, "key-input")
        field.clear()
        field.send_keys(key)
        driver.find_element(By.ID, "key-submit").click()

    settings = library_engine.settings.model_copy(update={"api_key": SecretStr(KEY)})
    with live_server(create_app(settings, engine=library_engine)) as url:
        driver.switch_to.new_window("tab")
        try:
            driver.get(f"{url}/")
            wait_for(driver, dialog_open)
            enter_key("not-the-key")
            wait_for(driver, lambda d: "refused" in d.find_element(By.ID, "key-error").text)
            assert dialog_open(driver)
            enter_key(KEY)
            wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#doc-list li"))
            assert not dialog_open(driver)
            assert js(driver, "return sessionStorage.getItem('newsdesk.apiKey')") == KEY
            assert js(driver, "return localStorage.length") == 0
            assert js(driver, "return document.cookie") == ""

            driver.refresh()  # kept for the tab: no second prompt
            wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#doc-list li"))
            assert not dialog_open(driver)
            # The key travels in a header, never in an address.
            addresses = js(
                driver,
                "return [location.href, ...performance.getEntriesByType('resource')"
                ".map(e => e.name)]",
            )
            assert addresses and not any(KEY in a for a in addresses), addresses
            assert KEY not in json.dumps(driver.get_cookies())
        finally:
            driver.close()
            driver.switch_to.window(driver.window_handles[0])

        driver.switch_to.new_window("tab")  # another tab asks again
        try:
            driver.get(f"{url}/")
            wait_for(driver, dialog_open)
        finally:
            driver.close()
            driver.switch_to.window(driver.window_handles[0])
