"""The built-in web fetch: GET one public http(s) URL and give an agent its text.

Every connection goes through the address guard (``nethttp``): the host is resolved once,
each address checked, and the socket opened to a vetted address, so neither the URL nor
a redirect nor a rebinding DNS answer reaches a private, loopback or metadata address.
Redirects are followed here, one hop at a time, so each hop's scheme is checked and
the number of hops is bounded. The body is streamed and read only up to the size cap,
within the time limit; what was cut is said in the result.

HTML becomes text with selectolax: a maintained HTML5 parser (the Lexbor engine, as
browsers parse) with no further dependencies, fast and typed. Boilerplate removal
(trafilatura, readability) would pull in lxml and guesswork; an agent reads the page.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

import httpx
from selectolax.lexbor import LexborHTMLParser

from web4os.config import Settings
from web4os.errors import DomainError, Forbidden
from web4os.netguard import parse_allowed_hosts, split_http_url
from web4os.nethttp import guarded_client

REDIRECTS = frozenset({301, 302, 303, 307, 308})
HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
JSON_TYPE = re.compile(r"^application/([a-z0-9.+-]+\+)?json$")
# Elements whose text is not page content.
HIDDEN = ["script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "head"]
BLOCKS = ("address,article,aside,blockquote,dd,details,div,dl,dt,fieldset,figcaption,figure,"
          "footer,form,h1,h2,h3,h4,h5,h6,header,hr,li,main,nav,ol,p,pre,section,summary,table,"
          "td,th,tr,ul")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([a-zA-Z0-9_.:-]+)""", re.I)
USER_AGENT = "web4os-webfetch/1.0 (an AI agent's fetch, on behalf of a web4os account)"


class WebFetchDisabled(Forbidden):
    """The server admin turned web fetch off."""

    def __init__(self) -> None:
        super().__init__("Web fetch is turned off on this server (WEB4OS_WEB_FETCH_ENABLED).")


class WebFetchFailed(DomainError):
    """The page could not be read: the network, the server or its content type said no."""

    status_code = 502


@dataclass(frozen=True)
class FetchResult:
    """What one fetch gave: the text (HTML already reduced to text) and where it came from."""

    url: str
    final_url: str
    status: int
    content_type: str
    text: str
    truncated: bool
    bytes_read: int


@dataclass(frozen=True)
class FetchLimits:
    """The bounds of one fetch; ``fetch_for_agent`` takes them from the settings.

    The body is cut when ``timeout_seconds`` have passed since the start; one wait on the
    network is bounded by what was left of it when its hop began, so a silent server
    costs at most twice the limit.
    """

    timeout_seconds: float = 15.0
    max_bytes: int = 2_000_000
    max_chars: int = 20_000
    max_redirects: int = 5

    @classmethod
    def of(cls, settings: Settings) -> FetchLimits:
        return cls(settings.web_fetch_timeout_seconds, settings.web_fetch_max_bytes,
                   settings.web_fetch_max_chars, settings.web_fetch_max_redirects)


def fetch_for_agent(url: str, *, settings: Settings) -> FetchResult:
    """The web fetch tool as an agent's runtime calls it: the server's switch and limits."""
    if not settings.web_fetch_enabled:
        raise WebFetchDisabled()
    return fetch(url, limits=FetchLimits.of(settings),
                 allowed_hosts=parse_allowed_hosts(settings.net_allowed_hosts))


def fetch(url: str, *, limits: FetchLimits = FetchLimits(),
          allowed_hosts: Iterable[str] = ()) -> FetchResult:
    """GET ``url`` through the guard, following up to ``limits.max_redirects`` redirects.

    ``allowed_hosts`` adds to the server admin's allowance (tests allow their local server).
    """
    deadline = time.monotonic() + limits.timeout_seconds
    current = url.strip()
    with guarded_client(allowed_hosts=allowed_hosts, follow_redirects=False,
                        headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity",
                                 "Accept": "text/html, text/*;q=0.9, application/json;q=0.9"}) as client:
        for _hop in range(limits.max_redirects + 1):
            split_http_url(current)
            timeout = httpx.Timeout(max(deadline - time.monotonic(), 0.001))
            try:
                with client.stream("GET", current, timeout=timeout) as response:
                    location = response.headers.get("location")
                    if response.status_code in REDIRECTS and location:
                        current = str(response.url.join(location))
                        continue
                    return _read(url, response, limits, deadline)
            except httpx.TimeoutException:
                raise WebFetchFailed(f"{current} did not answer within "
                                     f"{limits.timeout_seconds:g} seconds.") from None
            except httpx.HTTPError as exc:
                raise WebFetchFailed(f"{current} could not be fetched: {exc}") from None
    raise WebFetchFailed(f"{url} redirected more than {limits.max_redirects} times.")


def _read(url: str, response: httpx.Response, limits: FetchLimits, deadline: float) -> FetchResult:
    """Read the body within the caps; a cut body is still returned, marked truncated."""
    media_type, charset = _content_type(response.headers.get("content-type", ""))
    is_html = media_type in HTML_TYPES
    if not (is_html or media_type.startswith("text/") or JSON_TYPE.match(media_type)):
        raise WebFetchFailed(f"{response.url} is {media_type or 'of an unnamed type'}; web fetch "
                             "reads only HTML, text and JSON.")
    body, cut = bytearray(), ""
    try:
        for chunk in response.iter_bytes():
            body += chunk
            if len(body) >= limits.max_bytes:
                del body[limits.max_bytes:]
                cut = f"the first {limits.max_bytes:,} bytes"
                break
            if time.monotonic() > deadline:
                cut = f"what arrived within {limits.timeout_seconds:g} seconds"
                break
    except httpx.TimeoutException:
        cut = f"what arrived within {limits.timeout_seconds:g} seconds"
    raw = bytes(body)
    text = _decode(raw, charset, is_html)
    if is_html:
        text = html_to_text(text)
    if len(text) > limits.max_chars:
        text = text[:limits.max_chars]
        cut = cut or f"the first {limits.max_chars:,} characters"
    if cut:
        text += f"\n[web4os: truncated; this is {cut}]"
    return FetchResult(url=url, final_url=str(response.url), status=response.status_code,
                       content_type=media_type, text=text, truncated=bool(cut),
                       bytes_read=len(raw))


def _content_type(header: str) -> tuple[str, str]:
    media_type, _, params = header.partition(";")
    match = re.search(r"charset\s*=\s*\"?([^\";\s]+)", params, re.I)
    return media_type.strip().lower(), match.group(1) if match else ""


def _decode(raw: bytes, charset: str, is_html: bool) -> str:
    """The header's charset, else an HTML page's own ``<meta charset>``, else UTF-8."""
    if not charset and is_html:
        found = _META_CHARSET.search(raw[:4096])
        charset = found.group(1).decode("ascii") if found else ""
    try:
        return raw.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return raw.decode("utf-8", errors="replace")


def html_to_text(html: str) -> str:
    """The readable text of an HTML page: its title, then its blocks one per line."""
    tree = LexborHTMLParser(html)
    title_node = tree.css_first("title")
    title = " ".join(title_node.text().split()) if title_node is not None else ""
    tree.strip_tags(HIDDEN)
    for node in tree.css(BLOCKS):
        node.insert_before("\n")
        node.insert_after("\n")
    for node in tree.css("br"):
        node.insert_after("\n")
    root = tree.body or tree.root
    raw = root.text(separator="", strip=False) if root is not None else ""
    lines = [" ".join(line.split()) for line in raw.splitlines()]
    text = "\n".join(line for line in lines if line)
    return f"{title}\n\n{text}" if title and text else title or text
