"""The bookstore's aiohttp application: ``create_app()`` returns an ordinary ``web.Application``.

Nothing here knows about HTTP/2; ``python -m aiohttp_h2 examples.bookstore.app:create_app``
or ``python -m examples.bookstore`` serve it over both protocols.

Routes:

* ``GET /``: an HTML index of every book, each linking to ``/books/{id}``
* ``GET /books/{id}``: an HTML page per book (a 404 page for unknown ids)
* ``GET /api/books`` and ``GET /api/books/{id}``: the same data as JSON (404 JSON for unknown ids)
* ``GET /covers/{id}.svg``: a cover drawn from the book's colour, with ``ETag`` and ``Cache-Control``
* ``GET /static/...``: the stylesheet, the script and the icons, by aiohttp's static route

Every page, cover and JSON document is rendered once when the app is made, so a request
costs a dictionary lookup: the benchmarks measure the server, not string formatting.
Asset references are plain, root-relative, double-quoted attributes so that simple crawlers
(``benchmarks/crawl.py``) find them with a regular expression.
"""

from __future__ import annotations

import functools
import hashlib
import json
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from aiohttp import web

HERE = Path(__file__).resolve().parent
BOOKS_JSON = HERE / "books.json"
STATIC_DIR = HERE / "static"
SITE = "Bookstore"

#: Assets every page loads, in document order (the book page adds its cover and icons).
STYLESHEET = "/static/style.css"
SCRIPT = "/static/app.js"
LOGO = "/static/logo.svg"
ICONS = {name: f"/static/icons/{name}.svg" for name in ("author", "calendar", "pages", "star")}

COVER_CACHE_CONTROL = "public, max-age=86400"


def load_books(path: Path = BOOKS_JSON) -> list[dict[str, Any]]:
    """The shipped catalogue (made by ``generate.py``), read relative to this module."""
    books: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return books


def _page(title: str, body: str) -> bytes:
    """A whole HTML5 document around ``body``; ``title`` is already escaped."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{title}</title>\n"
        f'<link rel="icon" href="{LOGO}" type="image/svg+xml">\n'
        f'<link rel="stylesheet" href="{STYLESHEET}">\n'
        f'<script src="{SCRIPT}" defer></script>\n'
        "</head>\n<body>\n"
        f'<header><a href="/"><img src="{LOGO}" alt="" width="32" height="32"> {SITE}</a></header>\n'
        f"{body}"
        "<footer>Served by aiohttp through aiohttp-h2 · HTTP/1.1 and HTTP/2 on one port</footer>\n"
        "</body>\n</html>\n"
    ).encode()


def render_index(books: list[dict[str, Any]]) -> bytes:
    items = "".join(
        f'<li><a href="/books/{book["id"]}">{escape(book["title"])}</a> '
        f'<span class="by">{escape(book["author"])}, {book["year"]}</span> '
        f'<span class="stars" data-rating="{book["rating"]}">{book["rating"]}</span></li>\n'
        for book in books
    )
    body = (
        f"<main>\n<h1>{len(books)} science-fiction books</h1>\n"
        '<input id="search" type="search" placeholder="Filter by title, author or year" aria-label="Filter">\n'
        f'<ul id="books">\n{items}</ul>\n</main>\n'
    )
    return _page(f"{SITE}: {len(books)} science-fiction books", body)


def book_title(book: dict[str, Any]) -> str:
    """The document title of a book's page (unescaped; tests compare ``document.title`` with it)."""
    return f"{book['title']} by {book['author']} · {SITE}"


def render_book(book: dict[str, Any], count: int) -> bytes:
    book_id = book["id"]
    title, author = escape(book["title"]), escape(book["author"])
    previous_id = book_id - 1 if book_id > 1 else count
    next_id = book_id + 1 if book_id < count else 1
    body = (
        '<main class="book">\n'
        f'<img class="cover" src="/covers/{book_id}.svg" alt="Cover of {title}" width="180" height="270">\n'
        '<div class="details">\n'
        f"<h1>{title}</h1>\n"
        '<dl class="facts">\n'
        f'<dt><img src="{ICONS["author"]}" alt="" width="16" height="16"> Author</dt><dd>{author}</dd>\n'
        f'<dt><img src="{ICONS["calendar"]}" alt="" width="16" height="16"> Published</dt><dd>{book["year"]}</dd>\n'
        f'<dt><img src="{ICONS["pages"]}" alt="" width="16" height="16"> Pages</dt><dd>{book["pages"]}</dd>\n'
        f'<dt><img src="{ICONS["star"]}" alt="" width="16" height="16"> Rating</dt>'
        f'<dd><span class="stars" data-rating="{book["rating"]}">{book["rating"]}</span> ({book["rating"]} / 5)</dd>\n'
        "</dl>\n"
        f'<p class="description">{escape(book["description"])}</p>\n'
        f'<p><a href="/api/books/{book_id}">This book as JSON</a></p>\n'
        '<nav class="pager">'
        f'<a href="/books/{previous_id}">&larr; Previous</a> <a href="/">All books</a> '
        f'<a href="/books/{next_id}">Next &rarr;</a></nav>\n'
        "</div>\n</main>\n"
    )
    return _page(escape(book_title(book)), body)


def render_not_found(path: str) -> bytes:
    body = (
        '<main class="error">\n<h1>Book not found</h1>\n'
        f"<p>There is no book at <code>{escape(path)}</code>.</p>\n"
        '<p><a href="/">Back to all books</a></p>\n</main>\n'
    )
    return _page(f"Not found · {SITE}", body)


def _text_colour(background: str) -> str:
    """Black or white, whichever reads better on ``background`` (#rrggbb)."""
    red, green, blue = (int(background[i : i + 2], 16) for i in (1, 3, 5))
    return "#111" if 0.299 * red + 0.587 * green + 0.114 * blue > 150 else "#fff"


def render_cover(book: dict[str, Any]) -> bytes:
    """A 180x270 SVG cover: the book's colour, a planet, the title and the author."""
    colour, ink = book["cover"], _text_colour(book["cover"])
    title = escape(book["title"])
    size = 18 if len(book["title"]) <= 16 else 15 if len(book["title"]) <= 22 else 12
    radius = 30 + book["id"] % 40
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" width="180" height="270" viewBox="0 0 180 270">'
        f'<rect width="180" height="270" fill="{colour}"/>'
        f'<circle cx="{60 + book["id"] % 80}" cy="90" r="{radius}" fill="{ink}" opacity=".18"/>'
        f'<circle cx="{40 + book["id"] % 100}" cy="40" r="3" fill="{ink}" opacity=".6"/>'
        '<rect y="190" width="180" height="80" fill="#000" opacity=".2"/>'
        f'<text x="90" y="222" fill="{ink}" font-family="sans-serif" font-size="{size}" '
        f'font-weight="bold" text-anchor="middle">{title}</text>'
        f'<text x="90" y="248" fill="{ink}" font-family="sans-serif" font-size="12" '
        f'text-anchor="middle">{escape(book["author"])}</text>'
        "</svg>\n"
    ).encode()


@dataclass(frozen=True)
class Cover:
    body: bytes
    etag: str


class Bookstore:
    """The pre-rendered site and its handlers."""

    def __init__(self, books: list[dict[str, Any]]) -> None:
        self.books = {book["id"]: book for book in books}
        self.index = render_index(books)
        self.pages = {book["id"]: render_book(book, len(books)) for book in books}
        self.api_list = json.dumps(books, ensure_ascii=False).encode()
        self.api_books = {book["id"]: json.dumps(book, ensure_ascii=False).encode() for book in books}
        self.covers = {}
        for book in books:
            body = render_cover(book)
            self.covers[book["id"]] = Cover(body, hashlib.sha256(body).hexdigest()[:20])

    def _book_id(self, request: web.Request) -> int | None:
        """The id in the path when it names a book; ``None`` otherwise (also for ``/books/abc``)."""
        raw = request.match_info["id"]
        if not raw.isascii() or not raw.isdigit():
            return None
        book_id = int(raw)
        return book_id if book_id in self.books else None

    async def index_page(self, request: web.Request) -> web.Response:
        return web.Response(body=self.index, content_type="text/html", charset="utf-8")

    async def book_page(self, request: web.Request) -> web.Response:
        book_id = self._book_id(request)
        if book_id is None:
            return web.Response(
                body=render_not_found(request.path), status=404, content_type="text/html", charset="utf-8"
            )
        return web.Response(body=self.pages[book_id], content_type="text/html", charset="utf-8")

    async def api_list_books(self, request: web.Request) -> web.Response:
        return web.Response(body=self.api_list, content_type="application/json")

    async def api_book(self, request: web.Request) -> web.Response:
        book_id = self._book_id(request)
        if book_id is None:
            return web.json_response({"error": "not found", "id": request.match_info["id"]}, status=404)
        return web.Response(body=self.api_books[book_id], content_type="application/json")

    async def cover(self, request: web.Request) -> web.Response:
        book_id = self._book_id(request)
        if book_id is None:
            raise web.HTTPNotFound()
        cover = self.covers[book_id]
        headers = {"Cache-Control": COVER_CACHE_CONTROL}
        conditions = request.if_none_match
        if conditions and any(tag.value in (cover.etag, "*") for tag in conditions):
            response = web.Response(status=304, headers=headers)
        else:
            response = web.Response(body=cover.body, content_type="image/svg+xml", headers=headers)
        response.etag = cover.etag
        return response


STORE = web.AppKey("bookstore", Bookstore)


@functools.cache
def shared_store() -> Bookstore:
    """The shipped catalogue, rendered once per process: it never changes, so apps can share it."""
    return Bookstore(load_books())


def create_app(argv: list[str] | None = None) -> web.Application:
    """The app factory (``argv`` is what ``python -m aiohttp_h2 ... module:factory`` passes; unused)."""
    store = shared_store()
    app = web.Application()
    app[STORE] = store
    app.router.add_get("/", store.index_page)
    app.router.add_get("/books/{id}", store.book_page)
    app.router.add_get("/api/books", store.api_list_books)
    app.router.add_get("/api/books/{id}", store.api_book)
    app.router.add_get("/covers/{id}.svg", store.cover)
    app.router.add_static("/static/", STATIC_DIR)
    return app
