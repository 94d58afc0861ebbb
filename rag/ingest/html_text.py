"""Plain article text out of a saved web page.

Citations quote exact character spans, so an HTML upload is turned into text once, here, and that
text becomes the article's original: every offset points into it, never into the markup.

The main text comes from trafilatura. It scores blocks by text and link density, so it also drops
furniture that no tag marks as such (a cookie banner in a plain div, related links and reader
comments inside the article element, share bars), which tag rules alone keep and then index. Its
output is laid out as a .txt article is: the title, a blank line, one paragraph a line, so
`parse_article` finds the headline exactly as it does in a file. The stored text therefore depends
on the trafilatura version, which pyproject.toml pins.

A tag-based parser is the fallback: it keeps every block outside scripts, styles and page
furniture (nav, header, footer, aside, forms), one block a line. It is used when trafilatura
finds no document or no text, and when it keeps less than half of the page's main paragraph block,
since an article with some furniture left in costs less than a lost article. Tiny pages, where
trafilatura's default mode falls back to the whole page's text, are handled by the rules at
TINY_PAGE_CHARS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lxml.html import HtmlElement

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
# trafilatura's MIN_EXTRACTED_SIZE: when its reading of a page holds fewer characters, its default
# mode swaps in the whole page's text instead (site header kept, blocks glued into one line).
# A page whose main paragraph block is this small is read in precision mode, which keeps its own
# reading; lines of such a small text that the page holds only inside furniture are dropped.
TINY_PAGE_CHARS = 250
# trafilatura kept less than this share of the page's main paragraph block: it dropped article
# text, not just furniture, and an article with some furniture in it costs less than a lost one.
MIN_MAIN_BLOCK_SHARE = 0.5
# Elements whose content lxml keeps undecoded; trafilatura reads metadata from JSON-LD in them.
_RAW_TEXT = {"script", "style"}
# Furniture when measuring a page for trafilatura: a <form> may wrap the whole page (server-side
# web forms), article included.
_FURNITURE = _SKIP - {"form"}


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


@dataclass
class _Scored:
    title: str | None
    lines: list[str]
    # Text in the page's largest block of sibling <p> outside furniture: the article's size.
    main_block_chars: int


def html_to_article(markup: str) -> HtmlArticle:
    """The page's article as plain text, its title and the site's name.

    The title is the first line of the text, so offsets from `parse_article` hold for HTML as for
    .txt. The outlet is the page's own `og:site_name` (or `application-name`), nothing guessed:
    publisher fields are often a social-media URL or handle.
    """
    structural = _by_structure(markup)
    scored = _by_block_scoring(markup)
    if scored is None or _lost_the_article(scored):
        return structural
    head = f"{scored.title}\n\n" if scored.title else ""
    return HtmlArticle(
        text=head + "\n".join(scored.lines) + "\n",
        title=scored.title or structural.title,
        outlet=structural.outlet,
    )


def _lost_the_article(scored: _Scored) -> bool:
    """No text, or less than half of the page's main paragraph block: then the tag rules, which
    keep every block outside furniture, are the safer reading."""
    scored_chars = sum(len(line) for line in scored.lines)
    return not scored_chars or scored_chars < MIN_MAIN_BLOCK_SHARE * scored.main_block_chars


def _by_structure(markup: str) -> HtmlArticle:
    parser = _Extractor()
    parser.feed(markup)
    parser.close()
    raw = "".join(parser.parts)
    lines = [" ".join(line.split()) for line in raw.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
    title = " ".join((parser.h1 or parser.title).split()) or None
    return HtmlArticle(text=text, title=title, outlet=parser.site)


def _by_block_scoring(markup: str) -> _Scored | None:
    """trafilatura's title and main-text lines (a first line repeating the title dropped), or
    None when it finds no document. No URL is passed, so nothing is fetched or resolved."""
    import trafilatura

    tree = trafilatura.load_html(markup) if markup.strip() else None
    if tree is None:
        return None
    main_block_chars = _main_block_chars(tree)
    furniture = _furniture_texts(tree)
    _escape_ampersands(tree)
    doc = trafilatura.bare_extraction(
        tree,
        with_metadata=True,
        include_comments=False,
        favor_precision=main_block_chars < TINY_PAGE_CHARS,
    )
    if doc is None:
        return None
    title = " ".join((doc.title or "").split()) or None
    lines = [flat for line in (doc.text or "").splitlines() if (flat := " ".join(line.split()))]
    if sum(len(line) for line in lines) < TINY_PAGE_CHARS:
        lines = [line for line in lines if line not in furniture]
    if title and lines and lines[0] == title:
        lines.pop(0)
    return _Scored(title=title, lines=lines, main_block_chars=main_block_chars)


def _in_furniture(element: HtmlElement) -> bool:
    return any(a.tag in _FURNITURE for a in element.iterancestors())


def _main_block_chars(tree: HtmlElement) -> int:
    """Characters in the largest group of sibling <p> outside furniture. Article paragraphs share
    a parent while each reader comment or teaser sits in its own, so a long comment thread does
    not count as the article."""
    per_parent: dict[HtmlElement, int] = {}
    for p in tree.iter("p"):
        if not _in_furniture(p):
            parent = p.getparent()
            per_parent[parent] = per_parent.get(parent, 0) + len(_flat_text(p))
    return max(per_parent.values(), default=0)


def _furniture_texts(tree: HtmlElement) -> set[str]:
    """The text of every element inside page furniture, as trafilatura would print it on a line."""
    texts: set[str] = set()
    for furniture in tree.iter(*_FURNITURE):
        texts.update(_flat_text(e) for e in furniture.iter() if isinstance(e.tag, str))
    return texts


def _flat_text(element: HtmlElement) -> str:
    return " ".join(element.text_content().split())


def _escape_ampersands(tree: HtmlElement) -> None:
    """Re-escape '&' in decoded text, because trafilatura unescapes its output once more: a page
    that shows `pr&#233;cis` or `&lt;b&gt;` would otherwise be stored as `précis` and `<b>`.
    Meta values are escaped too (titles come from them and get the same second unescape);
    script and style content is left alone, as lxml never decoded it."""
    for element in tree.iter():
        tag = element.tag
        if isinstance(tag, str):
            if element.text and tag not in _RAW_TEXT:
                element.text = element.text.replace("&", "&amp;")
            if tag == "meta" and "&" in element.get("content", ""):
                element.set("content", element.get("content", "").replace("&", "&amp;"))
        if element.tail:
            element.tail = element.tail.replace("&", "&amp;")
