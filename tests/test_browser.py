"""A real browser against the bookstore example: headless Chromium over HTTPS, HTTP/2 and HTTP/1.1.

The example's own server (``examples.bookstore.server.start``) runs in the test process with
the test certificate; Chromium trusts exactly that certificate's key through
``--ignore-certificate-errors-spki-list`` (it reads no CA file from the command line). The page
reports through the Resource Timing API which protocol carried the document and each asset,
and the DevTools protocol reports any console error or failed request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from examples.bookstore.app import book_title, load_books
from examples.bookstore.server import Served, start

from .browser_support import Page, chromium, spki_hash

pytestmark = pytest.mark.timeout(180)

BOOK_ID = 1729
REPORT = """(() => {
  const nav = performance.getEntriesByType("navigation")[0];
  return {
    title: document.title,
    url: location.href,
    protocol: nav.nextHopProtocol,
    status: nav.responseStatus,
    ready: document.documentElement.dataset.ready || "",
    stars: Array.from(document.querySelectorAll(".stars"), (e) => e.textContent).slice(0, 3),
    resources: performance.getEntriesByType("resource").map((e) => ({
      name: new URL(e.name).pathname, protocol: e.nextHopProtocol, type: e.initiatorType,
    })),
  };
})()"""


async def serve(tls_files: dict[str, Path], *, h2: bool) -> Served:
    return await start("127.0.0.1", 0, 0, certfile=tls_files["cert"], keyfile=tls_files["key"], h2=h2, access_log=False)


@pytest.fixture
async def browser(tls_files: dict[str, Path]) -> AsyncIterator[Page]:
    async with chromium(trusted_spki=[spki_hash(tls_files["cert"])]) as page:
        yield page


async def visit(page: Page, url: str) -> dict[str, Any]:
    await page.navigate(url)
    report: dict[str, Any] = await page.evaluate(REPORT)
    return report


async def check_site(page: Page, origin: str, protocol: str) -> None:
    """Index, then a book page: the document and every asset over ``protocol``, nothing red."""
    index = await visit(page, f"{origin}/")
    assert index["url"] == f"{origin}/"
    assert index["title"] == "Bookstore: 3000 science-fiction books"
    assert index["protocol"] == protocol and index["status"] == 200
    assert index["ready"] == "1"  # app.js ran
    assert all(set(stars) <= {"\u2605", "\u2606"} and len(stars) == 5 for stars in index["stars"])
    assert {r["name"] for r in index["resources"]} >= {"/static/style.css", "/static/app.js", "/static/logo.svg"}
    assert all(r["protocol"] == protocol for r in index["resources"]), index["resources"]

    book = await visit(page, f"{origin}/books/{BOOK_ID}")
    assert book["title"] == book_title(load_books()[BOOK_ID - 1])
    assert book["protocol"] == protocol and book["status"] == 200
    assert book["ready"] == "1"
    names = [r["name"] for r in book["resources"]]
    assert set(names) >= {
        "/static/style.css",
        "/static/app.js",
        "/static/logo.svg",
        f"/covers/{BOOK_ID}.svg",
        "/static/icons/author.svg",
        "/static/icons/calendar.svg",
        "/static/icons/pages.svg",
        "/static/icons/star.svg",
    }, names
    assert all(r["protocol"] == protocol for r in book["resources"]), book["resources"]

    assert page.errors() == []
    # Chromium's network stack agrees with the page's Resource Timing entries.
    assert set(page.responses().values()) == {protocol}, page.responses()


async def test_chromium_loads_the_bookstore_over_h2(browser: Page, tls_files: dict[str, Path]) -> None:
    served = await serve(tls_files, h2=True)
    try:
        await check_site(browser, f"https://127.0.0.1:{served.tls_port}", "h2")
    finally:
        await served.close()


async def test_chromium_loads_the_bookstore_over_http11_with_h2_off(browser: Page, tls_files: dict[str, Path]) -> None:
    served = await serve(tls_files, h2=False)
    try:
        await check_site(browser, f"https://127.0.0.1:{served.tls_port}", "http/1.1")
    finally:
        await served.close()
