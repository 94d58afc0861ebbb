"""Plain article text out of a saved web page.

Citations quote exact character spans, so an HTML upload is turned into text once, here, and that
text becomes the article's original: every offset points into it, never into the markup. Block
elements become line breaks (so the headline and `Source:` lines parse as they do in .txt files);
scripts, styles and page furniture (nav, header, footer, aside, forms) are dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser

_SKIP = {
    "script",
    "style",
    "noscript",
    "template",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "svg",
    "iframe",
    "button",
    "select",
}
_BLOCK = {
    "p",
    "div",
    "br",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "section",
    "article",
    "main",
    "blockquote",
    "pre",
    "tr",
    "table",
    "figcaption",
    "hr",
    "dd",
    "dt",
}
_VOID = {
    "br",
    "hr",
    "img",
    "meta",
    "link",
    "input",
    "area",
    "base",
    "col",
    "embed",
    "source",
    "track",
    "wbr",
}


@dataclass
class HtmlArticle:
    text: str
    title: str | None
    outlet: str | None


class _Extractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0
        self.in_title = False
        self.title = ""
        self.h1 = ""
        self.in_h1 = False
        self.site: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta":
            a = dict(attrs)
            if (a.get("property") or a.get("name") or "").lower() in {
                "og:site_name",
                "application-name",
            }:
                self.site = self.site or (a.get("content") or "").strip() or None
            return
        if tag in _SKIP and tag not in _VOID:
            self.skip_depth += 1
        elif tag == "title":
            self.in_title = True
        elif tag == "h1":
            self.in_h1 = True
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP and self.skip_depth:
            self.skip_depth -= 1
        elif tag == "title":
            self.in_title = False
        elif tag == "h1":
            self.in_h1 = False
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title += data
            return
        if self.skip_depth:
            return
        if self.in_h1:
            self.h1 += data
        self.parts.append(data)


def html_to_article(markup: str) -> HtmlArticle:
    parser = _Extractor()
    parser.feed(markup)
    parser.close()
    raw = "".join(parser.parts)
    lines = [" ".join(line.split()) for line in raw.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
    title = " ".join((parser.h1 or parser.title).split()) or None
    return HtmlArticle(text=text, title=title, outlet=parser.site)
