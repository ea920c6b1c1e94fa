"""``flask shop seo-check``: crawl the shop's own sitemaps and pages in-process, report what a
search engine would trip on.

The detectors are plain functions over parsed pages and sitemaps, each returning a list of
``Problem``; ``run`` fetches everything through ``app.test_client()`` and applies them.
"""

from __future__ import annotations

import contextvars
import json
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urldefrag, urljoin, urlsplit

from flask import Flask
from werkzeug.test import TestResponse

from shop.config import LOCALES
from shop.i18n import lang_from_path
from shop.seo import is_private
from shop.seo.sitemaps import SITEMAP_NS, X_DEFAULT, XHTML_NS

HREFLANGS = (*LOCALES, X_DEFAULT)
MAX_LINKS = 5000

# Problem kinds, in the order the summary lists them.
STATUS = "status"
SITEMAP = "sitemap"
CANONICAL = "canonical"
HREFLANG = "hreflang"
ALTERNATES = "sitemap-alternates"
TITLE = "title"
DUPLICATE_TITLE = "duplicate-title"
DESCRIPTION = "description"
JSON_LD = "json-ld"
NOINDEX = "noindex"
KINDS = (
    STATUS,
    SITEMAP,
    CANONICAL,
    HREFLANG,
    ALTERNATES,
    TITLE,
    DUPLICATE_TITLE,
    DESCRIPTION,
    JSON_LD,
    NOINDEX,
)


@dataclass(frozen=True)
class Problem:
    kind: str
    url: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.kind}] {self.url}: {self.detail}"


# -- pages -------------------------------------------------------------------------------


@dataclass
class Page:
    """What the checks read from a page's HTML."""

    title: str | None = None
    description: str | None = None
    robots: list[str] = field(default_factory=list)
    canonicals: list[str] = field(default_factory=list)
    alternates: dict[str, str] = field(default_factory=dict)
    conflicting_hreflangs: list[str] = field(default_factory=list)
    json_ld: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._svg_depth = 0
        self._capture: str | None = None  # "title" or "json-ld" while inside one
        self._buffer: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        page = self.page
        if tag == "svg":
            self._svg_depth += 1
        elif tag == "title" and not self._svg_depth and page.title is None:
            self._start("title")
        elif tag == "meta":
            name = attributes.get("name", "").lower()
            if name == "description" and page.description is None:
                page.description = attributes.get("content", "")
            elif name in ("robots", "googlebot"):
                page.robots.append(attributes.get("content", ""))
        elif tag == "link":
            rels = attributes.get("rel", "").lower().split()
            href = attributes.get("href", "")
            if "canonical" in rels:
                page.canonicals.append(href)
            if "alternate" in rels and "hreflang" in attributes:
                code = attributes["hreflang"]
                if code in page.alternates and page.alternates[code] != href:
                    page.conflicting_hreflangs.append(code)
                page.alternates.setdefault(code, href)
        elif tag == "script":
            kind = attributes.get("type", "").split(";")[0].strip().lower()
            if kind == "application/ld+json":
                self._start("json-ld")
        elif tag == "a" and "href" in attributes:
            page.links.append(attributes["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg" and self._svg_depth:
            self._svg_depth -= 1
        elif (tag, self._capture) in (("title", "title"), ("script", "json-ld")):
            text = "".join(self._buffer)
            if self._capture == "title":
                self.page.title = " ".join(text.split())
            else:
                self.page.json_ld.append(text)
            self._capture = None

    def handle_data(self, data: str) -> None:
        if self._capture:
            self._buffer.append(data)

    def _start(self, what: str) -> None:
        self._capture = what
        self._buffer = []


def parse_page(html: str) -> Page:
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return parser.page


def check_canonical(url: str, page: Page) -> list[Problem]:
    """A page listed in a sitemap must be canonical to itself."""
    found = set(page.canonicals)
    if not found:
        return [Problem(CANONICAL, url, "no <link rel=canonical>")]
    if len(found) > 1:
        return [Problem(CANONICAL, url, f"several canonicals: {', '.join(sorted(found))}")]
    if (canonical := found.pop()) != url:
        return [Problem(CANONICAL, url, f"canonical is {canonical}, not the page itself")]
    return []


def check_hreflang(
    url: str, alternates: Mapping[str, str], known: Mapping[str, Mapping[str, str]]
) -> list[Problem]:
    """fr, en and x-default present; the page names itself in its own language; each twin
    (looked up in ``known``, URL -> its hreflang set) points back and has the same set."""
    problems = [
        Problem(HREFLANG, url, f"no hreflang={code} alternate")
        for code in HREFLANGS
        if not alternates.get(code)
    ]
    own = lang_from_path(urlsplit(url).path)
    if own is None:
        return problems
    if own in alternates and alternates[own] != url:
        problems.append(
            Problem(HREFLANG, url, f"hreflang={own} is {alternates[own]}, not the page itself")
        )
    for code in LOCALES:
        twin_url = alternates.get(code)
        if code == own or not twin_url or twin_url == url or twin_url not in known:
            continue
        twin = known[twin_url]
        if twin.get(own) != url:
            problems.append(
                Problem(
                    HREFLANG,
                    url,
                    f"not reciprocal: its hreflang={code} page {twin_url} has "
                    f"hreflang={own} {twin.get(own) or '(none)'}",
                )
            )
        elif _hreflang_set(twin) != _hreflang_set(alternates):
            problems.append(
                Problem(HREFLANG, url, f"hreflang set differs from its twin {twin_url}'s")
            )
    return problems


def _hreflang_set(alternates: Mapping[str, str]) -> dict[str, str]:
    return {code: alternates[code] for code in HREFLANGS if code in alternates}


def check_sitemap_alternates(
    url: str, listed: Mapping[str, str], page_alternates: Mapping[str, str]
) -> list[Problem]:
    """The sitemap's ``xhtml:link`` set must be the page's own hreflang set."""
    differences = [
        f"hreflang={code}: sitemap {listed.get(code) or '(none)'}, "
        f"page {page_alternates.get(code) or '(none)'}"
        for code in sorted(set(listed) | set(page_alternates))
        if listed.get(code) != page_alternates.get(code)
    ]
    return [Problem(ALTERNATES, url, "; ".join(differences))] if differences else []


def check_title(url: str, page: Page) -> list[Problem]:
    if not page.title:
        return [Problem(TITLE, url, "missing or empty <title>")]
    return []


def check_duplicate_titles(
    titles: Mapping[str, str | None], hreflangs: Mapping[str, Mapping[str, str]] | None = None
) -> list[Problem]:
    """One problem per page whose title another page also has. A page's own translations
    (its hreflang set) may share its title: "Tables" is the same word in both languages."""
    by_title: dict[str, list[str]] = defaultdict(list)
    for url, title in titles.items():
        if title:
            by_title[title].append(url)
    problems = []
    for title, urls in by_title.items():
        for url in urls:
            twins = set((hreflangs or {}).get(url, {}).values())
            others = [other for other in urls if other != url and other not in twins]
            if others:
                problems.append(
                    Problem(DUPLICATE_TITLE, url, f"title {title!r} also on {', '.join(others)}")
                )
    return problems


def check_description(url: str, page: Page) -> list[Problem]:
    if page.description is None:
        return [Problem(DESCRIPTION, url, "no <meta name=description>")]
    if not page.description.strip():
        return [Problem(DESCRIPTION, url, "empty meta description")]
    return []


def check_noindex(url: str, page: Page, robots_header: str = "") -> list[Problem]:
    """A URL listed in a sitemap must be indexable."""
    directives = {
        directive.strip().lower()
        for content in (*page.robots, robots_header)
        for directive in content.split(",")
    }
    if directives & {"noindex", "none"}:
        return [Problem(NOINDEX, url, "listed in a sitemap but marked noindex")]
    return []


# -- JSON-LD -----------------------------------------------------------------------------


def check_json_ld(url: str, page: Page) -> list[Problem]:
    """Each block parses, each node has @context and @type, and the types we publish carry
    what rich results need (Product, BreadcrumbList, WebSite's SearchAction, Organization)."""
    problems = []
    for number, block in enumerate(page.json_ld, start=1):
        try:
            data = json.loads(block)
        except ValueError as error:
            problems.append(Problem(JSON_LD, url, f"block {number}: not JSON ({error})"))
            continue
        for detail in json_ld_errors(data):
            problems.append(Problem(JSON_LD, url, f"block {number}: {detail}"))
    return problems


def json_ld_errors(data: Any) -> list[str]:
    """What is wrong with one parsed JSON-LD block (empty when nothing)."""
    if isinstance(data, list):
        return [error for node in data for error in json_ld_errors(node)]
    if not isinstance(data, dict):
        return ["not a JSON object"]
    context_missing = [] if data.get("@context") else ["no @context"]
    if "@graph" in data:
        graph = data["@graph"]
        nodes = graph if isinstance(graph, list) else [graph]
        return context_missing + [error for node in nodes for error in _node_errors(node)]
    return context_missing + _node_errors(data)


def _node_errors(node: Any) -> list[str]:
    if not isinstance(node, dict):
        return ["a node is not a JSON object"]
    types = _types(node)
    if not types:
        return ["no @type"]
    errors = []
    if "Product" in types:
        errors += _product_errors(node)
    if "BreadcrumbList" in types:
        errors += _breadcrumb_errors(node)
    if "WebSite" in types:
        errors += _website_errors(node)
    if "Organization" in types and not node.get("name"):
        errors.append("Organization without name")
    return errors


def _types(node: Mapping[str, Any]) -> set[str]:
    value = node.get("@type")
    values = value if isinstance(value, list) else [value]
    return {v for v in values if isinstance(v, str) and v}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _product_errors(product: Mapping[str, Any]) -> list[str]:
    errors = [] if product.get("name") else ["Product without name"]
    offers = _as_list(product.get("offers"))
    if not offers:
        return [*errors, "Product without offers"]
    for number, offer in enumerate(offers, start=1):
        if not isinstance(offer, dict):
            errors.append(f"Product offer {number} is not an object")
            continue
        price_field = "lowPrice" if "AggregateOffer" in _types(offer) else "price"
        errors += [
            f"Product offer {number} without {name}"
            for name in (price_field, "priceCurrency", "availability")
            if offer.get(name) in (None, "")
        ]
        if not product.get("sku") and not offer.get("sku"):
            errors.append(f"Product offer {number} without sku (and no sku on the Product)")
    return errors


def _breadcrumb_errors(crumbs: Mapping[str, Any]) -> list[str]:
    items = crumbs.get("itemListElement")
    if not isinstance(items, list) or not items:
        return ["BreadcrumbList without itemListElement"]
    errors = []
    positions = [item.get("position") if isinstance(item, dict) else None for item in items]
    if positions != list(range(1, len(items) + 1)):
        errors.append(f"BreadcrumbList positions {positions} are not 1..{len(items)} in order")
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            errors.append(f"BreadcrumbList item {number} is not an object")
            continue
        target = item.get("item")
        if isinstance(target, dict):
            name = item.get("name") or target.get("name")
            target = target.get("@id") or target.get("url")
        else:
            name = item.get("name")
        if not name:
            errors.append(f"BreadcrumbList item {number} without name")
        # Google accepts the last crumb (the page itself) without an item.
        if not target and number != len(items):
            errors.append(f"BreadcrumbList item {number} without item")
    return errors


def _website_errors(site: Mapping[str, Any]) -> list[str]:
    actions = [
        action
        for action in _as_list(site.get("potentialAction"))
        if isinstance(action, dict) and "SearchAction" in _types(action)
    ]
    if not actions:
        return ["WebSite without a SearchAction"]
    errors = []
    for action in actions:
        targets = [
            target.get("urlTemplate") if isinstance(target, dict) else target
            for target in _as_list(action.get("target"))
        ]
        if not any(isinstance(t, str) and "{search_term_string}" in t for t in targets):
            errors.append("WebSite SearchAction target without {search_term_string}")
    return errors


# -- sitemaps ----------------------------------------------------------------------------


class SitemapError(ValueError):
    """A sitemap that is not the XML it should be."""


@dataclass(frozen=True)
class SitemapUrl:
    loc: str
    lastmod: str | None
    alternates: dict[str, str]


def _root(xml: bytes | str, expected: str) -> ET.Element:
    try:
        # Our own app's output, fetched in-process: no untrusted XML here.
        root = ET.fromstring(xml)  # noqa: S314
    except ET.ParseError as error:
        raise SitemapError(f"not XML ({error})") from error
    if root.tag != f"{{{SITEMAP_NS}}}{expected}":
        raise SitemapError(f"root element is {root.tag}, not {expected} in {SITEMAP_NS}")
    return root


def parse_sitemap_index(xml: bytes | str) -> list[str]:
    root = _root(xml, "sitemapindex")
    return [
        (element.text or "").strip()
        for element in root.iterfind(f"{{{SITEMAP_NS}}}sitemap/{{{SITEMAP_NS}}}loc")
    ]


def parse_urlset(xml: bytes | str) -> list[SitemapUrl]:
    root = _root(xml, "urlset")
    urls = []
    for element in root.iterfind(f"{{{SITEMAP_NS}}}url"):
        loc = (element.findtext(f"{{{SITEMAP_NS}}}loc") or "").strip()
        lastmod = element.findtext(f"{{{SITEMAP_NS}}}lastmod")
        alternates: dict[str, str] = {}
        for link in element.iterfind(f"{{{XHTML_NS}}}link"):
            if link.get("rel") == "alternate" and link.get("hreflang"):
                alternates[link.get("hreflang", "")] = link.get("href", "")
        urls.append(SitemapUrl(loc, lastmod.strip() if lastmod else None, alternates))
    return urls


def check_sitemap_urls(sitemap: str, urls: Iterable[SitemapUrl]) -> list[Problem]:
    """Each ``<url>`` has a ``<loc>`` and a W3C datetime ``<lastmod>``."""
    problems = []
    for url in urls:
        if not url.loc:
            problems.append(Problem(SITEMAP, sitemap, "a <url> without <loc>"))
        if url.lastmod is None:
            problems.append(Problem(SITEMAP, url.loc or sitemap, f"no <lastmod> in {sitemap}"))
        elif not _is_w3c_datetime(url.lastmod):
            problems.append(
                Problem(SITEMAP, url.loc or sitemap, f"lastmod {url.lastmod!r} is not W3C")
            )
    return problems


def check_listed_twins(listed: Mapping[str, SitemapUrl]) -> list[Problem]:
    """Every language of a listed page is listed too (the xhtml:link targets)."""
    return [
        Problem(SITEMAP, url, f"its hreflang={code} page {target} is in no sitemap")
        for url, entry in listed.items()
        for code in LOCALES
        if (target := entry.alternates.get(code)) and target not in listed
    ]


def _is_w3c_datetime(value: str) -> bool:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10 or moment.tzinfo is not None


# -- links -------------------------------------------------------------------------------


def public_links(page_url: str, hrefs: Iterable[str], base_url: str) -> Iterator[str]:
    """Absolute URLs of the public pages among ``hrefs``: same host, under /fr/ or /en/,
    outside the cart, checkout, account and search pages; fragments dropped."""
    base = urlsplit(base_url)
    for href in hrefs:
        url = urldefrag(urljoin(page_url, href.strip())).url
        parts = urlsplit(url)
        if (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
            continue
        if lang_from_path(parts.path) is None or is_private(parts.path):
            continue
        yield url


# -- the crawl ---------------------------------------------------------------------------


@dataclass
class Report:
    sitemaps: int = 0
    pages: int = 0
    links: int = 0
    links_not_checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    def lines(self) -> list[str]:
        counts = Counter(problem.kind for problem in self.problems)
        summary = (
            f"seo-check: {self.sitemaps} sitemaps, {self.pages} pages, {self.links} links checked"
        )
        lines = [summary]
        if self.links_not_checked:
            lines.append(f"seo-check: {self.links_not_checked} more links not checked (limit)")
        if counts:
            by_kind = ", ".join(f"{kind} {counts[kind]}" for kind in KINDS if counts[kind])
            lines.append(f"seo-check: {len(self.problems)} problems ({by_kind})")
        else:
            lines.append("seo-check: no problems")
        lines += [str(problem) for problem in self.problems]
        return lines


class _Crawler:
    def __init__(self, app: Flask, max_links: int) -> None:
        self.client = app.test_client(use_cookies=False)
        self.base_url = app.config["PUBLIC_BASE_URL"]
        self.max_links = max_links
        self.report = Report()
        self.hreflangs: dict[str, dict[str, str]] = {}  # every parsed page's hreflang set
        self.titles: dict[str, str | None] = {}  # sitemap pages only
        self.answered: dict[str, int] = {}  # status of every URL fetched
        self.link_sources: dict[str, str] = {}  # public link -> first page linking to it

    def problem(self, kind: str, url: str, detail: str) -> None:
        self.report.problems.append(Problem(kind, url, detail))

    def get(self, url: str, listed_in: str) -> TestResponse | None:
        """The answer for ``url`` (None, with a problem, unless it is a 200 on our host)."""
        if not url.startswith(self.base_url + "/"):
            self.problem(STATUS, url, f"not on {self.base_url} (from {listed_in})")
            return None
        # A fresh context per request, as under a real server: no app context (and its
        # ``g`` and database session) shared with the caller or between requests.
        response = contextvars.Context().run(self._fetch, url[len(self.base_url) :])
        self.answered[url] = response.status_code
        if response.status_code != 200:
            where = response.headers.get("Location")
            self.problem(
                STATUS,
                url,
                f"answers {response.status_code}"
                + (f" to {where}" if where else "")
                + f" (from {listed_in})",
            )
            return None
        return response

    def _fetch(self, path: str) -> TestResponse:
        response = self.client.get(path)
        response.get_data()
        response.close()
        return response

    def run(self) -> Report:
        listed = self.read_sitemaps()
        self.report.problems += check_listed_twins({url: e[1] for url, e in listed.items()})
        for url, entry in listed.items():
            self.check_page(url, entry)
        self.check_twins(listed)
        self.report.problems += check_duplicate_titles(self.titles, self.hreflangs)
        self.check_links()
        return self.report

    def read_sitemaps(self) -> dict[str, tuple[str, SitemapUrl]]:
        index_url = f"{self.base_url}/sitemap.xml"
        listed: dict[str, tuple[str, SitemapUrl]] = {}
        response = self.get(index_url, "robots.txt")
        if response is None:
            return listed
        self.report.sitemaps += 1
        try:
            children = parse_sitemap_index(response.data)
        except SitemapError as error:
            self.problem(SITEMAP, index_url, str(error))
            return listed
        for child in children:
            response = self.get(child, index_url)
            if response is None:
                continue
            self.report.sitemaps += 1
            if response.mimetype not in ("application/xml", "text/xml"):
                self.problem(SITEMAP, child, f"served as {response.mimetype}")
            try:
                urls = parse_urlset(response.data)
            except SitemapError as error:
                self.problem(SITEMAP, child, str(error))
                continue
            self.report.problems += check_sitemap_urls(child, urls)
            for url in urls:
                if url.loc in listed:
                    self.problem(SITEMAP, url.loc, f"listed in {listed[url.loc][0]} and {child}")
                elif url.loc:
                    listed[url.loc] = (child, url)
        return listed

    def check_page(self, url: str, entry: tuple[str, SitemapUrl]) -> None:
        sitemap, listed = entry
        response = self.get(url, sitemap)
        if response is None:
            return
        self.report.pages += 1
        page = parse_page(response.get_data(as_text=True))
        self.hreflangs[url] = page.alternates
        self.titles[url] = page.title
        for code in page.conflicting_hreflangs:
            self.problem(HREFLANG, url, f"several different hreflang={code} links")
        self.report.problems += [
            *check_canonical(url, page),
            *check_sitemap_alternates(url, listed.alternates, page.alternates),
            *check_title(url, page),
            *check_description(url, page),
            *check_json_ld(url, page),
            *check_noindex(url, page, response.headers.get("X-Robots-Tag", "")),
        ]
        for link in public_links(url, page.links, self.base_url):
            self.link_sources.setdefault(link, url)

    def check_twins(self, listed: Mapping[str, tuple[str, SitemapUrl]]) -> None:
        """Fetch hreflang targets missing from the sitemaps, then check reciprocity."""
        for url in list(self.hreflangs):
            for code, target in self.hreflangs[url].items():
                if target in self.answered or code not in HREFLANGS:
                    continue
                if code == X_DEFAULT:  # may redirect: "/" sends each visitor to a language
                    status = contextvars.Context().run(self._status, target)
                    self.answered[target] = status
                    if status >= 400:
                        self.problem(STATUS, target, f"answers {status} (x-default of {url})")
                    continue
                response = self.get(target, f"hreflang={code} of {url}")
                if response is not None:
                    twin = parse_page(response.get_data(as_text=True))
                    self.hreflangs[target] = twin.alternates
        for url in listed:
            if url in self.hreflangs:
                self.report.problems += check_hreflang(url, self.hreflangs[url], self.hreflangs)

    def _status(self, url: str) -> int:
        if not url.startswith(self.base_url + "/"):
            return 404
        return self.client.get(url[len(self.base_url) :]).status_code

    def check_links(self) -> None:
        unchecked = [link for link in self.link_sources if link not in self.answered]
        for link in unchecked[: self.max_links]:
            self.get(link, f"a link on {self.link_sources[link]}")
        self.report.links = len(self.link_sources) - len(unchecked[self.max_links :])
        self.report.links_not_checked = len(unchecked[self.max_links :])


def run(app: Flask, *, max_links: int = MAX_LINKS) -> Report:
    """Crawl the sitemap index, every child sitemap, every URL listed and the public pages
    they link to; the report holds every problem found."""
    return _Crawler(app, max_links).run()
