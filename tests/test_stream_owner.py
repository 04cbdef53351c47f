"""The stream side speaks to a version-neutral owner (``aiohttp_h2.owner``), socket-free."""

from __future__ import annotations

import ast
import asyncio
import pathlib

import pytest
from aiohttp import web

import aiohttp_h2
from aiohttp_h2 import connection, sending, session
from aiohttp_h2.context import ServerContext
from aiohttp_h2.owner import ResetReason, StreamConfig, StreamOwner
from aiohttp_h2.settings import H2Settings

PACKAGE = pathlib.Path(aiohttp_h2.__file__).parent
#: The modules an HTTP/3 session must be able to reuse unchanged.
STREAM_SIDE = ("stream.py", "writer.py", "pipeline.py", "owner.py", "body.py", "transport.py", "state.py")
#: What the stream side must not import, not even for type checking.
HTTP2_MODULES = ("h2", "hpack", "hyperframe", "aiohttp_h2.connection", "aiohttp_h2._h2compat")


def imported_modules(path: pathlib.Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names.add("aiohttp_h2." + module if node.level else module)
    return names


@pytest.mark.parametrize("filename", STREAM_SIDE)
def test_stream_side_imports_no_http2_module(filename: str) -> None:
    for name in imported_modules(PACKAGE / filename):
        assert not any(name == m or name.startswith(m + ".") for m in HTTP2_MODULES), (filename, name)


@pytest.mark.parametrize("filename", STREAM_SIDE)
def test_stream_side_names_no_http2_error_code(filename: str) -> None:
    """Resets carry a ``ResetReason``; the owner picks the wire code."""
    tree = ast.parse((PACKAGE / filename).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) in ("reset", "reset_stream"):
            for arg in node.args:
                assert not isinstance(arg, ast.Constant), (filename, ast.unparse(node))


def test_every_reset_reason_has_an_http2_code() -> None:
    codes = {reason: int(sending._RESET_CODES[reason]) for reason in ResetReason}
    assert codes == {ResetReason.NO_ERROR: 0x0, ResetReason.CANCEL: 0x8, ResetReason.INTERNAL: 0x2}


def test_h2session_implements_every_owner_call() -> None:
    members = {
        name
        for name in vars(StreamOwner)
        if not name.startswith("_") and name not in ("write_paused", "ssl_context", "peername", "sockname")
    }
    assert members >= {"send_headers", "send_data", "send_trailers", "send_interim", "reset_stream"}
    for name in members:
        assert callable(getattr(session.H2Session, name)), name


def make_context(loop: asyncio.AbstractEventLoop, **kwargs: object) -> ServerContext:
    async def handler(request: web.BaseRequest) -> web.StreamResponse:
        return web.Response()

    server = web.Server(handler, loop=loop)
    return ServerContext.from_server(server, loop, H2Settings(max_stream_send_buffer=4096), dict(kwargs))


def test_stream_config_is_made_once_per_server_from_its_values() -> None:
    loop = asyncio.new_event_loop()
    try:
        ctx = make_context(loop, max_field_size=1234, read_bufsize=999, timeout_ceil_threshold=7)
        config = ctx.stream_config
        assert isinstance(config, StreamConfig)
        assert (config.max_field_size, config.read_bufsize, config.timeout_ceil_threshold) == (1234, 999, 7.0)
        assert config.send_buffer == 4096
        assert config.receive_window == ctx.settings.initial_window_size
        assert config.loop is loop and config.logger is ctx.logger
        assert ctx.stream_config is config
    finally:
        loop.close()


def test_trailers_are_declared_but_not_sent_yet() -> None:
    """Issue 11 implements them; until then the HTTP/2 owner says so plainly."""
    loop = asyncio.new_event_loop()
    try:
        proto = connection.H2Protocol(make_context(loop))
        with pytest.raises(NotImplementedError, match="trailers"):
            proto.session.send_trailers(None, [(b"grpc-status", b"0")])  # type: ignore[arg-type]
    finally:
        loop.close()
