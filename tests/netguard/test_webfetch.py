"""Web fetch against a local site: text out, limits kept, every hop through the guard.

The site runs on 127.0.0.1, which only the test's explicit allowance lets web fetch
reach; the resolver is stubbed and any connect outside loopback fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import pytest

from tests.netguard.site import Site, serving
from tests.support.net import ConnectGuard, FakeDNS
from web4os.agents.webfetch import (
    FetchLimits,
    WebFetchDisabled,
    WebFetchFailed,
    fetch,
    fetch_for_agent,
    html_to_text,
)
from web4os.config import Settings
from web4os.netguard import AddressRefused

LOCAL = ["127.0.0.1"]  # the test-only allowance; nothing is allowed by default


@pytest.fixture
def site(fake_dns: FakeDNS) -> Iterator[Site]:
    with serving(Site("127.0.0.1")) as s:
        yield s


def url(site: Site, path: str) -> str:
    return f"http://127.0.0.1:{site.port}{path}"


def test_an_html_page_becomes_its_text(site: Site, connect_guard: ConnectGuard) -> None:
    result = fetch(url(site, "/page"), allowed_hosts=LOCAL)
    assert result.status == 200 and result.content_type == "text/html"
    assert result.text == "Opening hours\n\nBakery\nOpen Monday to Friday\n8 & 18 h\nBread\nCake"
    assert not result.truncated and result.final_url == url(site, "/page")
    assert connect_guard.connected == [("127.0.0.1", site.port)]


def test_html_text_leaves_out_scripts_and_keeps_escaped_markup_as_words() -> None:
    text = html_to_text("<p>&lt;script&gt;x&lt;/script&gt;</p><script>alert(1)</script>"
                        "<noscript>no</noscript><svg><text>drawn</text></svg><p>end</p>")
    assert text == "<script>x</script>\nend"


@pytest.mark.parametrize(("path", "kind", "text"), [
    ("/text", "text/plain", "plain words, ünïcode"),
    ("/json", "application/json", '{"open": true, "days": [1, 2]}'),
    ("/latin1", "text/html", "Café crème"),
])
def test_text_and_json_come_back_as_text(site: Site, path: str, kind: str, text: str) -> None:
    result = fetch(url(site, path), allowed_hosts=LOCAL)
    assert (result.content_type, result.text) == (kind, text)


@pytest.mark.parametrize(("path", "words"), [("/image", "image/png"), ("/untyped", "unnamed type")])
def test_other_content_is_refused(site: Site, path: str, words: str) -> None:
    with pytest.raises(WebFetchFailed, match=f"{words}.*reads only HTML, text and JSON"):
        fetch(url(site, path), allowed_hosts=LOCAL)


def test_an_error_page_is_returned_with_its_status(site: Site) -> None:
    result = fetch(url(site, "/missing"), allowed_hosts=LOCAL)
    assert (result.status, result.text) == (404, "No such page")


def test_the_local_site_is_refused_without_the_allowance(site: Site,
                                                         connect_guard: ConnectGuard) -> None:
    with pytest.raises(AddressRefused, match="loopback"):
        fetch(url(site, "/page"))
    assert site.requests == [] and connect_guard.connected == []


def test_a_redirect_on_the_same_site_is_followed(site: Site) -> None:
    result = fetch(url(site, "/redirect?to=/text&status=301"), allowed_hosts=LOCAL)
    assert (result.final_url, result.text) == (url(site, "/text"), "plain words, ünïcode")
    assert site.requests == ["/redirect", "/text"]


@pytest.mark.parametrize("target", [
    "http://10.0.0.1/", "http://inside.test/admin", "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:{port}/page", "http://[::ffff:10.0.0.1]/", "http://127.0.0.2:{port}/page",
    "file:///etc/passwd", "http://user:pw@127.0.0.1:{port}/page",
])
def test_a_redirect_into_a_refused_target_is_refused(
        site: Site, fake_dns: FakeDNS, connect_guard: ConnectGuard, target: str) -> None:
    fake_dns.set("inside.test", "10.0.0.1")
    hop = target.format(port=site.port)
    with pytest.raises(AddressRefused):
        fetch(url(site, "/redirect?to=" + quote(hop, safe="")), allowed_hosts=LOCAL)
    assert site.requests == ["/redirect"]
    assert connect_guard.connected == [("127.0.0.1", site.port)]


def test_redirects_are_bounded(site: Site) -> None:
    with pytest.raises(WebFetchFailed, match="redirected more than 3 times"):
        fetch(url(site, "/loop"), allowed_hosts=LOCAL, limits=FetchLimits(max_redirects=3))
    assert site.requests == ["/loop"] * 4


def test_the_body_stops_at_the_size_cap_and_says_so(site: Site) -> None:
    result = fetch(url(site, "/big"), allowed_hosts=LOCAL, limits=FetchLimits(max_bytes=1024))
    assert result.truncated and result.bytes_read == 1024
    body, note = result.text.rsplit("\n", 1)
    assert body == ("0123456789" * 103)[:1024]
    assert note == "[web4os: truncated; this is the first 1,024 bytes]"


def test_the_text_stops_at_the_character_cap(site: Site) -> None:
    result = fetch(url(site, "/page"), allowed_hosts=LOCAL, limits=FetchLimits(max_chars=20))
    assert result.truncated
    assert result.text == "Opening hours\n\nBaker\n[web4os: truncated; this is the first 20 characters]"


def test_a_server_that_does_not_answer_in_time_fails_the_fetch(site: Site) -> None:
    with pytest.raises(WebFetchFailed, match=r"did not answer within 0\.5 seconds"):
        fetch(url(site, "/stall?seconds=3"), allowed_hosts=LOCAL,
              limits=FetchLimits(timeout_seconds=0.5))


def test_a_body_that_never_ends_is_cut_at_the_time_limit(site: Site) -> None:
    result = fetch(url(site, "/drip"), allowed_hosts=LOCAL, limits=FetchLimits(timeout_seconds=0.6))
    assert result.truncated and result.text.startswith("drip drip")
    assert result.text.endswith("[web4os: truncated; this is what arrived within 0.6 seconds]")
    assert result.bytes_read < 100 * len(b"drip ")


def test_a_rebinding_name_is_connected_to_the_address_that_was_vetted(
        fake_dns: FakeDNS, connect_guard: ConnectGuard) -> None:
    """The name's first answer (127.0.0.2, allowed) is vetted; a later answer (127.0.0.1,
    where another site listens on the same port) must never be used for the connection."""
    with serving(Site("127.0.0.2", page=b"<p>vetted</p>")) as vetted, \
            serving(Site("127.0.0.1", vetted.port, page=b"<p>rebound</p>")) as rebound:
        fake_dns.sequence("rebind.test", ["127.0.0.2"], ["127.0.0.1"])
        result = fetch(f"http://rebind.test:{vetted.port}/page", allowed_hosts=["127.0.0.2"])
        assert result.text == "vetted"
        assert (vetted.requests, rebound.requests) == (["/page"], [])
    assert fake_dns.lookups.count("rebind.test") == 1
    assert connect_guard.connected == [("127.0.0.2", vetted.port)]


def test_fetch_for_agent_uses_the_servers_switch_and_limits(site: Site) -> None:
    settings = Settings(net_allowed_hosts="127.0.0.1", web_fetch_max_bytes=2048)
    result = fetch_for_agent(url(site, "/big"), settings=settings)
    assert result.truncated and result.bytes_read == 2048
    with pytest.raises(AddressRefused):
        fetch_for_agent(url(site, "/page"), settings=Settings())
    with pytest.raises(WebFetchDisabled, match="turned off on this server"):
        fetch_for_agent(url(site, "/page"), settings=Settings(web_fetch_enabled=False,
                                                              net_allowed_hosts="127.0.0.1"))
    assert site.requests == ["/big"]
