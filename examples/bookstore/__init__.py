"""The bookstore example: 3000 science-fiction books over HTTP/1.1 and HTTP/2.

An index page lists every book, each book has its own page that loads a stylesheet, a
script, a few icons and an SVG cover, and ``/api/books`` serves the same data as JSON: a
site where a browser fetches many small resources per page, which is where HTTP/2's
multiplexing on one connection shows. ``python -m examples.bookstore`` serves it.
"""
