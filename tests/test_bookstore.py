"""The bookstore example (``examples/bookstore``) with real clients, over every protocol it serves.

The app runs in-process through the example's own ``server.start`` (cleartext HTTP/1.1 + h2c
and TLS with ALPN), and httpx fetches the index, book pages and every asset a page references,
the way ``benchmarks/crawl.py`` and a browser do. The last tests start
``python -m examples.bookstore`` (and ``examples/hello.py``, which shares its development
certificate helper) as subprocesses and talk to them with curl.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from examples.bookstore import generate
from examples.bookstore.app import BOOKS_JSON, book_title, load_books
from examples.bookstore.server import Served, start

from .client_support import REPO, STOPS, SigintAtStart, StopBy, require_tool, stop_process, wait_for_port, with_sigint
from .conftest import free_port, run_command

TIMEOUT = 30.0
BOOK_LINK = re.compile(r'href="/books/(\d+)"')
#: What a crawler (and ``benchmarks/crawl.py``) follows on a book page.
ASSET = re.compile(r'<link rel="stylesheet" href="([^"]+)"|<script src="([^"]+)"|<img [^>]*?src="([^"]+)"')
FIELDS = {"id", "title", "author", "year", "rating", "pages", "description", "cover"}


def assets_of(page: str) -> list[str]:
    """Every stylesheet, script and image a page references, in order, without repeats."""
    found = ["".join(groups) for groups in ASSET.findall(page)]
    return list(dict.fromkeys(found))


@dataclass
class Client:
    http: httpx.AsyncClient
    base: str
    version: str  # what httpx reports as response.http_version


@pytest.fixture
async def bookstore(tls_files: dict[str, Path]) -> AsyncIterator[Served]:
    served = await start(
        "127.0.0.1",
        0,
        0,
        certfile=tls_files["cert"],
        keyfile=tls_files["key"],
        ca_file=tls_files["ca"],
        access_log=False,
    )
    try:
        yield served
    finally:
        await served.close()


@pytest.fixture(params=["h2c", "h2-tls", "http/1.1"])
async def client(
    request: pytest.FixtureRequest, bookstore: Served, tls_files: dict[str, Path]
) -> AsyncIterator[Client]:
    mode = request.param
    if mode == "h2c":
        http = httpx.AsyncClient(http1=False, http2=True, timeout=TIMEOUT)
        base, version = f"http://127.0.0.1:{bookstore.port}", "HTTP/2"
    elif mode == "h2-tls":
        verify = ssl.create_default_context(cafile=str(tls_files["ca"]))
        http = httpx.AsyncClient(http1=False, http2=True, verify=verify, timeout=TIMEOUT)
        base, version = f"https://127.0.0.1:{bookstore.tls_port}", "HTTP/2"  # the test cert covers the IP
    else:
        http = httpx.AsyncClient(http1=True, http2=False, timeout=TIMEOUT)
        base, version = f"http://127.0.0.1:{bookstore.port}", "HTTP/1.1"
    async with http:
        yield Client(http, base, version)


async def test_index_links_every_book(client: Client) -> None:
    response = await client.http.get(f"{client.base}/")
    assert response.status_code == 200 and response.http_version == client.version
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>Bookstore: 3000 science-fiction books</title>" in page
    ids = [int(n) for n in BOOK_LINK.findall(page)]
    assert sorted(ids) == list(range(1, 3001))


async def test_book_page_and_every_asset_it_references(client: Client) -> None:
    books = load_books()
    for book_id in (1, 1234, 3000):
        book = books[book_id - 1]
        response = await client.http.get(f"{client.base}/books/{book_id}")
        assert response.status_code == 200 and response.http_version == client.version
        page = response.text
        assert "<title>" in page and page.count("<title>") == 1
        assert book_title(book).replace("&", "&amp;") in page
        assert f"<h1>{book['title']}</h1>" in page and book["description"] in page
        assets = assets_of(page)
        assert assets == [
            "/static/style.css",
            "/static/app.js",
            "/static/logo.svg",
            f"/covers/{book_id}.svg",
            "/static/icons/author.svg",
            "/static/icons/calendar.svg",
            "/static/icons/pages.svg",
            "/static/icons/star.svg",
        ]
        replies = [await client.http.get(f"{client.base}{path}") for path in assets]
        for path, reply in zip(assets, replies, strict=True):
            assert reply.status_code == 200, path
            assert reply.http_version == client.version, path
            assert reply.content, path
        types = {path: reply.headers["content-type"].split(";")[0] for path, reply in zip(assets, replies, strict=True)}
        assert types["/static/style.css"] == "text/css"
        assert types["/static/app.js"] in ("application/javascript", "text/javascript")
        assert all(types[path] == "image/svg+xml" for path in assets if path.endswith(".svg"))


async def test_json_api(client: Client) -> None:
    response = await client.http.get(f"{client.base}/api/books")
    assert response.status_code == 200 and response.http_version == client.version
    assert response.headers["content-type"].startswith("application/json")
    books = response.json()
    assert len(books) == 3000 and [book["id"] for book in books] == list(range(1, 3001))
    assert all(set(book) == FIELDS for book in books)
    one = await client.http.get(f"{client.base}/api/books/42")
    assert one.status_code == 200 and one.json() == books[41]
    book = one.json()
    assert isinstance(book["title"], str) and isinstance(book["author"], str) and isinstance(book["description"], str)
    assert isinstance(book["year"], int) and isinstance(book["pages"], int) and isinstance(book["rating"], float)
    assert re.fullmatch(r"#[0-9a-f]{6}", book["cover"])


async def test_unknown_ids_are_404(client: Client) -> None:
    for path in ("/books/0", "/books/3001", "/books/abc", "/books/%C2%B2"):
        response = await client.http.get(f"{client.base}{path}")
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert "<title>Not found · Bookstore</title>" in response.text
    for path in ("/api/books/0", "/api/books/3001", "/api/books/abc"):
        response = await client.http.get(f"{client.base}{path}")
        assert response.status_code == 404, path
        assert response.json() == {"error": "not found", "id": path.rsplit("/", 1)[1]}
    for path in ("/covers/0.svg", "/covers/3001.svg", "/static/missing.css"):
        assert (await client.http.get(f"{client.base}{path}")).status_code == 404, path


async def test_covers_are_cacheable(client: Client) -> None:
    book = load_books()[6]
    response = await client.http.get(f"{client.base}/covers/7.svg")
    assert response.status_code == 200 and response.http_version == client.version
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["cache-control"] == "public, max-age=86400"
    etag = response.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]+"', etag)
    svg = response.text
    assert svg.startswith("<svg ") and f'fill="{book["cover"]}"' in svg
    again = await client.http.get(f"{client.base}/covers/7.svg", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    other = await client.http.get(f"{client.base}/covers/8.svg", headers={"If-None-Match": etag})
    assert other.status_code == 200 and other.headers["etag"] != etag


def test_shipped_books_json_is_what_the_generator_writes() -> None:
    shipped = BOOKS_JSON.read_bytes()
    assert generate.to_json(generate.generate_books()).encode() == shipped
    assert len(shipped) < 1_000_000
    books = json.loads(shipped)
    assert [book["id"] for book in books] == list(range(1, 3001))
    assert all(set(book) == FIELDS for book in books)
    assert all(1950 <= book["year"] <= 2024 and 1.0 <= book["rating"] <= 5.0 for book in books)
    # Another seed gives other books: the output depends on the seed, not on chance.
    assert generate.generate_books(seed=1, count=5) != generate.generate_books(count=5)
    assert generate.generate_books(seed=1, count=5) == generate.generate_books(seed=1, count=5)


# --- the command lines, as subprocesses -------------------------------------------------------------------------


@contextlib.contextmanager
def subprocess_server(
    argv: list[str], ports: list[int], output: Path, start: SigintAtStart = SigintAtStart.DEFAULT
) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``argv`` from the repository root until the test stops it; always killed at the end."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with output.open("wb") as sink:
        proc = subprocess.Popen(with_sigint(argv, start), cwd=REPO, stdout=sink, stderr=subprocess.STDOUT, env=env)
    try:
        for port in ports:
            wait_for_port("127.0.0.1", port, proc, timeout=60.0)
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def interrupt(proc: subprocess.Popen[bytes], output: Path, signum: signal.Signals = signal.SIGINT) -> str:
    """SIGINT (as Ctrl+C does) or SIGTERM; the process must exit with 0. Returns everything it printed."""
    code = stop_process(proc, signum, output)
    text = output.read_text()
    assert code == 0, text
    assert "Traceback" not in text, text
    assert f"{signum.name}: shutting down" in text, text
    return text


async def curl(*args: str) -> tuple[str, str]:
    """(body, HTTP version) of one curl request."""
    argv = [require_tool("curl"), "-sS", "--max-time", "20", "-w", "\n%{http_version}", *args]
    code, out, err = await run_command(*argv)
    assert code == 0, err.decode()
    body, _, version = out.decode().rpartition("\n")
    return body, version


async def test_python_m_examples_bookstore(tmp_path: Path) -> None:
    """The README's command: a development CA on first start, h2c and h2 over TLS, clean Ctrl+C."""
    port, tls_port, cert_dir = free_port(), free_port(), tmp_path / "certs"
    argv = [sys.executable, "-m", "examples.bookstore", "--port", str(port), "--tls-port", str(tls_port)]
    argv += ["--cert-dir", str(cert_dir)]
    output = tmp_path / "server.log"
    with subprocess_server(argv, [port, tls_port], output) as proc:
        ca = cert_dir / "ca.pem"
        body, version = await curl("--http2-prior-knowledge", f"http://127.0.0.1:{port}/books/1")
        assert version == "2" and "<title>" in body
        body, version = await curl("--http1.1", f"http://127.0.0.1:{port}/api/books/1")
        assert version == "1.1" and json.loads(body)["id"] == 1
        resolve = ["--resolve", f"localhost:{tls_port}:127.0.0.1"]
        body, version = await curl("--cacert", str(ca), *resolve, f"https://localhost:{tls_port}/")
        assert version == "2" and len(BOOK_LINK.findall(body)) == 3000
        text = interrupt(proc, output)
    assert f"Development CA: {ca}" in text
    assert f"curl --cacert {ca} https://localhost:{tls_port}/books/1" in text
    assert f"curl --http2-prior-knowledge http://127.0.0.1:{port}/books/1" in text
    assert '"GET /books/1 HTTP/2.0" 200' in text and '"GET /api/books/1 HTTP/1.1" 200' in text
    assert "Bookstore stopped." in text
    assert {p.name for p in cert_dir.iterdir()} == {"ca.pem", "localhost.pem", "localhost-key.pem"}


async def test_python_m_examples_bookstore_no_h2(tmp_path: Path, tls_files: dict[str, Path]) -> None:
    """``--no-h2`` with a given certificate: HTTP/1.1 on both ports, and no CA is made."""
    port, tls_port = free_port(), free_port()
    argv = [sys.executable, "-m", "examples.bookstore", "--port", str(port), "--tls-port", str(tls_port), "--no-h2"]
    argv += [
        "--certfile",
        str(tls_files["cert"]),
        "--keyfile",
        str(tls_files["key"]),
        "--cert-dir",
        str(tmp_path / "x"),
    ]
    output = tmp_path / "server.log"
    with subprocess_server(argv, [port, tls_port], output) as proc:
        resolve = ["--resolve", f"localhost:{tls_port}:127.0.0.1"]
        body, version = await curl(
            "--http2", "--cacert", str(tls_files["ca"]), *resolve, f"https://localhost:{tls_port}/books/2"
        )
        assert version == "1.1" and "<title>" in body
        body, version = await curl("--http2", f"http://127.0.0.1:{port}/books/2")  # Upgrade: h2c is ignored
        assert version == "1.1" and "<title>" in body
        text = interrupt(proc, output)
    assert "HTTP/1.1 (HTTP/2 off)" in text and "Development CA" not in text
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("stop", STOPS, ids=str)
async def test_hello_py_uses_the_shared_dev_certificate(tmp_path: Path, stop: StopBy) -> None:
    """``python examples/hello.py`` makes its certificate (through ``examples/devcert.py``) and stops
    cleanly on Ctrl+C, on SIGINT when started with SIGINT ignored (a background job), and on SIGTERM."""
    port, tls_port, cert_dir = free_port(), free_port(), tmp_path / "certs"
    argv = [sys.executable, "examples/hello.py", "--port", str(port), "--tls-port", str(tls_port)]
    argv += ["--cert-dir", str(cert_dir)]
    output = tmp_path / "hello.log"
    with subprocess_server(argv, [port, tls_port], output, stop.start) as proc:
        resolve = ["--resolve", f"localhost:{tls_port}:127.0.0.1"]
        body, version = await curl(
            "--cacert", str(cert_dir / "ca.pem"), *resolve, f"https://localhost:{tls_port}/world"
        )
        assert (body, version) == ("Hello, world", "2")
        text = interrupt(proc, output, stop.signum)
    assert text.rstrip().endswith("Stopped"), text


@pytest.mark.parametrize("stop", STOPS, ids=str)
async def test_bookstore_stops_on_every_signal(tmp_path: Path, tls_files: dict[str, Path], stop: StopBy) -> None:
    """``python -m examples.bookstore`` ends with status 0 and its goodbye however it is stopped."""
    port, tls_port = free_port(), free_port()
    argv = [sys.executable, "-m", "examples.bookstore", "--port", str(port), "--tls-port", str(tls_port)]
    argv += ["--certfile", str(tls_files["cert"]), "--keyfile", str(tls_files["key"])]
    output = tmp_path / "server.log"
    with subprocess_server(argv, [port, tls_port], output, stop.start) as proc:
        body, version = await curl("--http2-prior-knowledge", f"http://127.0.0.1:{port}/api/books/3")
        assert version == "2" and json.loads(body)["id"] == 3
        text = interrupt(proc, output, stop.signum)
    assert text.rstrip().endswith("Bookstore stopped."), text
