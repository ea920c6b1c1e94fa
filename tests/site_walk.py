"""A crawler for the whole site, as one visitor (a role) sees it, through the Flask test client.

It follows every link (``<a href>``), every GET form (submitted with its default values), every
``hx-get`` (as HTMX asks: ``HX-Request: true``), redirects, and the sitemaps' ``<loc>``s. So
that the walk stays bounded whatever the size of the catalogue, it takes at most a few URLs of
each kind: a kind is the route's endpoint, the language and whether a query string is present
(two products per language, not two hundred and forty).

Then each kind's first page is asked again with hostile input: every query parameter (its own
and the usual listing ones) set to huge, negative, unicode and markup values, parameters
repeated and given as arrays; every number in its path replaced by ones the database cannot
hold; every other path argument by unicode and markup.

The rules checked on every response: no status of 500 or more, no markup from the request in
the page unescaped, and a 404 for an id the database cannot hold.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from shop.paging import MAX_ID

PROBE = "<x-walk-probe>"
PROBE_PATTERN = re.compile(re.escape(PROBE), re.IGNORECASE)
HOSTILE_VALUES = (
    "99999999999999999999999999",
    "9" * 5000,
    "-1",
    "1.5",
    f"été ☕ 😀 \u202e\u200b {PROBE}\"'><svg onload=alert(1)>",
    "",
)
# What a role that is not the first to reach a kind of page still tries on it.
LIGHT_VALUES = (HOSTILE_VALUES[0], HOSTILE_VALUES[4])
# The listing parameters pages read, tried on every page even when its links do not use them.
COMMON_PARAMETERS = (
    "page",
    "q",
    "sort",
    "status",
    "category",
    "tag",
    "min",
    "max",
    "from",
    "to",
    "kind",
    "stock",
    "period",
    "next",
    "variant_id",
    "payment",
    "lang",
)
HOSTILE_IDS = (str(MAX_ID + 1), "0", "9" * 40)
HOSTILE_SEGMENTS = ("été-😀", f"{PROBE}", "..%2F..%2Fetc", "9" * 40)
SKIPPED_PREFIXES = ("/static/", "/media/", "/webhooks/")
PER_KIND = 2


@dataclass
class Visit:
    url: str
    status: int
    endpoint: str | None
    htmx: bool = False
    hostile: bool = False


@dataclass
class Walk:
    """What one visitor reached, and what went wrong."""

    role: str
    visits: list[Visit] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def reached(self, prefix: str = "", status: int = 200) -> list[Visit]:
        return [
            v for v in self.visits if v.url.startswith(prefix) and v.status == status and not v.htmx
        ]

    def endpoints(self) -> set[str]:
        return {v.endpoint for v in self.visits if v.endpoint}


class _Links(HTMLParser):
    """Links, GET forms with their default values, and hx-get URLs of one page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.htmx: list[str] = []
        self.forms: list[tuple[str, list[tuple[str, str]]]] = []
        self._form: tuple[str, list[tuple[str, str]]] | None = None
        self._select: str | None = None
        self._select_value: str | None = None
        self._select_first: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        for name in ("hx-get", "data-hx-get"):
            if a.get(name):
                self.htmx.append(a[name])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            if a.get("method", "get").lower() == "get":
                self._form = (a.get("action", ""), [])
        elif self._form is not None:
            self._field(tag, a)

    def _field(self, tag: str, a: dict[str, str]) -> None:
        assert self._form is not None
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind in ("submit", "button", "image", "file", "reset"):
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            self._form[1].append((name, a.get("value", "on" if kind == "checkbox" else "")))
        elif tag == "select" and name:
            self._select, self._select_value, self._select_first = name, None, None
        elif tag == "option" and self._select is not None:
            value = a.get("value", "")
            if self._select_first is None:
                self._select_first = value
            if "selected" in a:
                self._select_value = value
        elif tag == "textarea" and name:
            self._form[1].append((name, ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None and self._form is not None:
            value = self._select_value if self._select_value is not None else self._select_first
            self._form[1].append((self._select, value or ""))
            self._select = None
        elif tag == "form" and self._form is not None:
            self.forms.append(self._form)
            self._form = None


_LOC = re.compile(r"<loc>([^<]+)</loc>|<xhtml:link[^>]+href=\"([^\"]+)\"")


class Walker:
    def __init__(
        self,
        app: Flask,
        client: FlaskClient,
        role: str,
        base_url: str,
        scope: tuple[str, ...] = ("/",),
    ) -> None:
        self.scope = scope
        self.app = app
        self.client = client
        self.walk = Walk(role)
        self.base = urlsplit(base_url)
        self.adapter = app.url_map.bind(self.base.netloc, url_scheme=self.base.scheme)
        self.kinds: Counter[tuple[str, ...]] = Counter()
        self.first_of_kind: dict[tuple[str, ...], str] = {}
        self.seen: set[str] = set()

    # -- the walk ----------------------------------------------------------------------

    def run(self, starts: list[str], limit: int = 1500) -> Walk:
        queue: list[tuple[str, bool]] = [(url, False) for url in starts]
        while queue and len(self.walk.visits) < limit:
            url, htmx = queue.pop(0)
            for found, found_htmx in self._visit(url, htmx=htmx):
                queue.append((found, found_htmx))
        return self.walk

    def _visit(self, url: str, *, htmx: bool) -> list[tuple[str, bool]]:
        response = self._get(url, htmx=htmx)
        if response is None:
            return []
        _status, body, content_type, location = response
        found: list[tuple[str, bool]] = []
        if location:
            found.append((location, False))
        if "html" in content_type:
            parser = _Links()
            parser.feed(body)
            found += [(urljoin(url, link), False) for link in parser.links]
            found += [(urljoin(url, link), True) for link in parser.htmx]
            for action, fields in parser.forms:
                target = urljoin(url, action or url)
                target = target.split("?", 1)[0]
                found.append((f"{target}?{urlencode(fields)}" if fields else target, False))
        elif "xml" in content_type:
            found += [(a or b, False) for a, b in _LOC.findall(body)]
        return [(u, h) for u, h in (self._local(u, h) for u, h in found) if u]

    def _local(self, url: str, htmx: bool) -> tuple[str | None, bool]:
        parts = urlsplit(url)
        if parts.scheme not in ("", "http", "https") or (
            parts.netloc and parts.netloc != self.base.netloc
        ):
            return None, htmx
        path = parts.path or "/"
        if path.startswith(SKIPPED_PREFIXES) or not path.startswith(self.scope):
            return None, htmx
        local = path + (f"?{parts.query}" if parts.query else "")
        if (local, htmx) in self.seen:
            return None, htmx
        kind = self._kind(path, bool(parts.query), htmx)
        if self.kinds[kind] >= PER_KIND:
            return None, htmx
        return local, htmx

    def _kind(self, path: str, has_query: bool, htmx: bool) -> tuple[str, ...]:
        language = path.split("/")[1] if path.count("/") > 1 else ""
        return (self._endpoint(path) or path, language, str(has_query), str(htmx))

    def _endpoint(self, path: str) -> str | None:
        try:
            endpoint, _ = self.adapter.match(path, method="GET")
        except RequestRedirect:
            return "redirect"
        except HTTPException:
            return None
        return endpoint

    def _get(self, url: str, *, htmx: bool) -> tuple[int, str, str, str | None] | None:
        if (url, htmx) in self.seen:
            return None
        self.seen.add((url, htmx))
        path = urlsplit(url).path
        kind = self._kind(path, "?" in url, htmx)
        self.kinds[kind] += 1
        self.first_of_kind.setdefault(kind, url)
        response = self.client.get(url, headers={"HX-Request": "true"} if htmx else {})
        body = response.get_data(as_text=True) if _is_text(response.content_type) else ""
        self.walk.visits.append(Visit(url, response.status_code, self._endpoint(path), htmx))
        self._check(url, response.status_code, body)
        location = response.headers.get("Location") if 300 <= response.status_code < 400 else None
        response.close()
        return response.status_code, body, response.content_type or "", location

    def _check(self, url: str, status: int, body: str, *, expect: int | None = None) -> None:
        url = url if len(url) <= 240 else url[:200] + f"…({len(url)} characters)"
        if status >= 500:
            self.walk.problems.append(f"{status} {url}")
        if PROBE_PATTERN.search(body):
            self.walk.problems.append(f"unescaped markup from the request in {url}")
        if expect is not None and status != expect:
            self.walk.problems.append(f"{status} (expected {expect}) {url}")

    # -- hostile input -----------------------------------------------------------------

    def attack(self, prefixes: tuple[str, ...] = ("/",)) -> Walk:
        """Every kind of page reached (not HTMX, not a redirect), asked with hostile input:
        all of it under ``prefixes``, the lightest of it elsewhere."""
        for kind, url in self.first_of_kind.items():
            if kind[3] == "True" or kind[0] in ("redirect",):
                continue
            full = url.startswith(prefixes)
            for variant, expect in self._hostile_variants(url, full=full):
                response = self.client.get(variant)
                body = response.get_data(as_text=True) if _is_text(response.content_type) else ""
                self.walk.visits.append(Visit(variant, response.status_code, kind[0], hostile=True))
                self._check(variant, response.status_code, body, expect=expect)
                response.close()
        return self.walk

    def _hostile_variants(self, url: str, *, full: bool) -> list[tuple[str, int | None]]:
        parts = urlsplit(url)
        own = [k for k, _ in parse_qsl(parts.query, keep_blank_values=True)]
        names = list(dict.fromkeys([*own, *COMMON_PARAMETERS]))
        variants: list[tuple[str, int | None]] = []
        for value in HOSTILE_VALUES if full else LIGHT_VALUES:
            variants.append((f"{parts.path}?{urlencode([(n, value) for n in names])}", None))
        if not full:
            return variants
        repeated = [(n, v) for n in names for v in ("1", "2")] + [(f"{n}[]", "1") for n in names]
        variants.append((f"{parts.path}?{urlencode(repeated)}", None))
        variants += [(p, None) for p in self._hostile_paths(parts.path, ids=False)]
        variants += [(p, 404) for p in self._hostile_paths(parts.path, ids=True)]
        return variants

    def _hostile_paths(self, path: str, *, ids: bool) -> list[str]:
        """The path with each of its arguments replaced: the numbers (ids) by ones no row can
        have, the others by unicode and markup."""
        try:
            endpoint, arguments = self.adapter.match(path, method="GET")
        except (HTTPException, RequestRedirect):
            return []
        paths = []
        for value in arguments.values():
            if isinstance(value, int) != ids or not str(value) or str(value) not in path:
                continue
            for hostile in HOSTILE_IDS if ids else HOSTILE_SEGMENTS:
                head, _, tail = path.rpartition(str(value))
                paths.append(head + quote(hostile, safe="%") + tail)
        del endpoint
        return paths


def _is_text(content_type: str | None) -> bool:
    kind = content_type or ""
    return kind.startswith("text/") or "xml" in kind or "json" in kind
