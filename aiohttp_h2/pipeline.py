"""Run one request on one HTTP/2 stream: the per-stream twin of aiohttp's
``RequestHandler._handle_request`` / ``finish_response`` / ``handle_error``.

Everything an app can observe (error pages, which exceptions become 500 or 504, the
access log line, ``on_response_prepare``) matches HTTP/1.1. What differs is only what
HTTP/2 changes: a failure after the headers went out resets this stream alone, and an
unread request body is drained (then reset) without touching other streams.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.web_exceptions import HTTPException, HTTPInternalServerError

from ._compat import ErrorPageHost, build_error_response, request_finish
from .message import stand_in_message
from .owner import ResetReason

if TYPE_CHECKING:
    from aiohttp.http_parser import RawRequestMessage
    from aiohttp.web_request import BaseRequest

    from .owner import Handler
    from .stream import H2Stream

__all__ = ("serve_stream", "answer_with", "peer_label")

logger = logging.getLogger("aiohttp_h2")


async def serve_stream(stream: H2Stream, message: RawRequestMessage, handler: Handler | None = None) -> None:
    """Build the request, run the app's handler, send its response, log it."""
    ctx = stream.config
    loop = ctx.loop
    try:
        request, request_handler = _build_request(stream, message, handler)
    except Exception:
        # Not even the stand-in could be built: the app's request factory is broken.
        ctx.logger.exception("Cannot build a request for HTTP/2 stream %d", stream.stream_id)
        stream.handler_finished()  # the owner resets the stream (INTERNAL) and frees its slot
        return
    stream.attach_request(request)
    start = loop.time() if ctx.access_logger is not None else None
    try:
        try:
            resp = await request_handler(request)
        except HTTPException as exc:
            resp = exc
        except TimeoutError:
            if ctx.debug:
                ctx.logger.debug("Request handler timed out.", exc_info=True)
            resp = _error_response(stream, request, 504, None)
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as exc:
            resp = _error_response(stream, request, 500, exc)
        else:
            if getattr(resp, "__http_exception__", False):
                warnings.warn(
                    "returning HTTPException object is deprecated "
                    "(#2415) and will be removed, please raise the exception instead",
                    DeprecationWarning,
                    stacklevel=1,
                )
        await _finish_response(stream, request, resp, start)
    except ConnectionError:
        # Stream reset (by the peer, or by us after a failure mid-response): nothing
        # more can be said on this stream.
        if not stream.closed:
            stream.reset(ResetReason.INTERNAL)
    finally:
        stream.handler_finished()


def _build_request(
    stream: H2Stream, message: RawRequestMessage, handler: Handler | None
) -> tuple[BaseRequest, Handler]:
    """The request and the handler to run for it.

    aiohttp's ``BaseRequest()`` can refuse a message that passed our checks (yarl parses
    an authority like ``h:x`` only when the request asks for its host). Such a request is
    answered 400 the way a refused header list is, as a stand-in request without its
    target, authority or fields; the peer's mistake is worth one INFO line.
    """
    ctx = stream.config
    task = asyncio.current_task(ctx.loop)
    try:
        request = ctx.request_factory(message, stream.reader, stream, stream.writer, task)
    except Exception as exc:
        logger.info(
            "Cannot build the HTTP/2 request on stream %d from %s (answered 400): %r",
            stream.stream_id,
            peer_label(stream.peername),
            exc,
        )
        stream.owner.stream_wasted()  # answered without the app, like a refused header list
        stand_in = stand_in_message(message.method, message.path)
        request = ctx.request_factory(stand_in, stream.reader, stream, stream.writer, task)
        return request, answer_with(web.HTTPBadRequest(text="400: Bad Request"))
    return request, handler or ctx.request_handler


def answer_with(error: web.HTTPException) -> Handler:
    """A request handler that answers with ``error``, for requests the app never sees."""

    async def answer(request: web.BaseRequest) -> web.StreamResponse:
        raise error

    return answer


def peer_label(peername: object) -> str:
    """The peer's address for a log line."""
    if isinstance(peername, tuple) and peername:
        return str(peername[0])
    return str(peername)


def _error_response(
    stream: H2Stream, request: BaseRequest, status: int, exc: BaseException | None
) -> web.StreamResponse:
    """aiohttp's error page; ``ConnectionError`` if the response already started."""
    config = stream.config
    # The stream id stands for aiohttp's request count: above 1 except for the first stream.
    host = ErrorPageHost(stream.stream_id, config.logger, config.debug)
    return build_error_response(host, request, status, exc)


async def _finish_response(
    stream: H2Stream, request: BaseRequest, resp: web.StreamResponse, start: float | None
) -> None:
    # ``resp`` is what the handler returned: checked here, as aiohttp does, since an app
    # may return anything (or nothing).
    ctx = stream.config
    request_finish(request)
    try:
        prepare = resp.prepare
    except AttributeError:
        if resp is None:
            ctx.logger.exception("Missing return statement on request handler")
        else:
            ctx.logger.exception("Web-handler should return a response instance, got %r", resp)
        exc = HTTPInternalServerError()
        resp = web.Response(status=exc.status, reason=exc.reason, text=exc.text, headers=exc.headers)
        prepare = resp.prepare
    try:
        try:
            await prepare(request)
            await resp.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as exc:
            # Failing while preparing/sending: same as a handler failure.
            resp = _error_response(stream, request, 500, exc)
            await resp.prepare(request)
            await resp.write_eof()
    finally:
        if ctx.access_logger is not None and start is not None:
            ctx.access_logger.log(request, resp, ctx.loop.time() - start)
