"""The settings object, and the private aiohttp names we depend on."""

from __future__ import annotations

import dataclasses
import logging
import math
import subprocess
import sys
import textwrap
import typing
from typing import Any

import aiohttp
import pytest
from aiohttp import HttpVersion, HttpVersion11, web

import aiohttp_h2
from aiohttp_h2 import _compat
from aiohttp_h2.message import HTTP2, RequestRejected, parse_request_headers, response_header_block
from aiohttp_h2.settings import pop_h2_settings

from .conftest import free_port

#: Values of the wrong type for each kind of field; each must be refused at construction.
WRONG_TYPES = {
    "bool": [1, 0, "yes", None],
    "int": [1.5, 5.0, True, "5", None],
    "float": ["75", True, math.nan, None],
    "Literal": [1, True, None, b"final"],
}


def kind_of(hint: Any) -> str:
    return "Literal" if typing.get_origin(hint) is typing.Literal else getattr(hint, "__name__", repr(hint))


FIELDS = [(name, kind_of(hint)) for name, hint in typing.get_type_hints(aiohttp_h2.H2Settings).items()]


def test_settings_are_immutable_with_safe_defaults() -> None:
    settings = aiohttp_h2.H2Settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.max_concurrent_streams = 5  # type: ignore[misc]
    assert settings.max_concurrent_streams == 100
    assert settings.max_header_list_size == 65536
    changed = settings.replace(max_concurrent_streams=5)
    assert changed.max_concurrent_streams == 5 and settings.max_concurrent_streams == 100


@pytest.mark.parametrize(
    "field,value",
    [
        ("max_concurrent_streams", 0),
        ("initial_window_size", 1000),
        ("initial_window_size", 2**31),
        ("max_frame_size", 1000),
        ("max_frame_size", 2**24),
        ("max_header_list_size", 10),
        ("idle_timeout", 0),
        ("preface_timeout", -1),
        ("max_connection_header_bytes", 100),
        ("shutdown_goaway", "both"),
    ],
)
def test_settings_reject_out_of_range_values(field: str, value: object) -> None:
    with pytest.raises(ValueError):
        aiohttp_h2.H2Settings(**{field: value})  # type: ignore[arg-type]


def test_every_field_has_a_checked_type() -> None:
    assert {kind for _, kind in FIELDS} <= set(WRONG_TYPES), FIELDS


@pytest.mark.parametrize(
    "field,value",
    [(name, value) for name, kind in FIELDS for value in WRONG_TYPES[kind]],
    ids=lambda v: repr(v) if not isinstance(v, str) or " " in v else v,
)
def test_settings_reject_wrong_types(field: str, value: object) -> None:
    """``max_concurrent_streams=1.5`` used to break every HTTP/2 connection with struct.error,
    ``idle_timeout="75"`` raised a bare TypeError from a comparison: both are refused here."""
    with pytest.raises(TypeError, match=rf"^H2Settings\.{field} must be (a bool|an int|a number|a str), not "):
        aiohttp_h2.H2Settings(**{field: value})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=rf"^H2Settings\.{field} must be"):
        aiohttp_h2.H2Settings().replace(**{field: value})


def test_settings_accept_ints_for_numbers() -> None:
    settings = aiohttp_h2.H2Settings(idle_timeout=5, reset_rate=10, h2c_upgrade=False)
    assert (settings.idle_timeout, settings.reset_rate, settings.h2c_upgrade) == (5, 10, False)


BAD = {"max_concurrent_streams": 5}
MESSAGE = r"h2_settings must be an aiohttp_h2\.H2Settings or None, not dict .*H2Settings\(\*\*mapping\)"


async def _handler(request: web.BaseRequest) -> web.Response:
    return web.Response()


async def test_entry_points_refuse_a_dict_at_construction() -> None:
    """A dict used to start fine and then kill every connection (HTTP/1.1 too) with AttributeError."""
    with pytest.raises(TypeError, match=MESSAGE):
        aiohttp_h2.AppRunner(web.Application(), h2_settings=BAD)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^handler_args\['h2_settings'\] must be an aiohttp_h2\.H2Settings"):
        aiohttp_h2.AppRunner(web.Application(handler_args={"h2_settings": BAD}))
    with pytest.raises(TypeError, match=MESSAGE):
        aiohttp_h2.Server(_handler, h2_settings=BAD)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^h2_settings must be .*not str"):
        aiohttp_h2.AppRunner(web.Application(), h2_settings="max_concurrent_streams=5")  # type: ignore[arg-type]


RUN_APP_WITH = textwrap.dedent(
    """
    import sys
    from aiohttp import web
    import aiohttp_h2

    bad = {"max_concurrent_streams": 5}
    if sys.argv[1] == "argument":
        aiohttp_h2.run_app(web.Application(), host="127.0.0.1", port=int(sys.argv[2]), h2_settings=bad)
    else:
        app = web.Application(handler_args={"h2_settings": bad})
        aiohttp_h2.run_app(app, host="127.0.0.1", port=int(sys.argv[2]))
    """
)


@pytest.mark.parametrize("where", ["argument", "handler_args"])
def test_run_app_refuses_a_dict_before_serving(where: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", RUN_APP_WITH, where, str(free_port())], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, done.stdout + done.stderr
    last = done.stderr.strip().splitlines()[-1]
    prefix = "h2_settings" if where == "argument" else "handler_args['h2_settings']"
    assert last.startswith(f"TypeError: {prefix} must be an aiohttp_h2.H2Settings or None, not dict"), done.stderr
    assert "Running on" not in done.stdout


def test_pop_h2_settings() -> None:
    custom = aiohttp_h2.H2Settings(max_concurrent_streams=3)
    kwargs = {"h2_settings": custom, "keepalive_timeout": 3}
    assert pop_h2_settings(kwargs) is custom
    assert kwargs == {"keepalive_timeout": 3}
    with pytest.raises(TypeError):
        pop_h2_settings({"h2_settings": {"max_concurrent_streams": 3}})


async def test_handler_args_settings_never_reach_request_handler(caplog: pytest.LogCaptureFixture) -> None:
    app = web.Application(handler_args={"h2_settings": aiohttp_h2.H2Settings(max_concurrent_streams=9)})
    runner = aiohttp_h2.AppRunner(app, keepalive_timeout=12.5)
    await runner.setup()
    try:
        server = runner.server
        assert isinstance(server, aiohttp_h2.Server)
        assert server.h2_settings.max_concurrent_streams == 9
        with caplog.at_level(logging.WARNING):
            handler = server.make_http1_handler()
        assert "Failed to create request handler" not in caplog.text
        assert handler._keepalive_timeout == 12.5
    finally:
        await runner.cleanup()


async def test_compat_names_exist_in_this_aiohttp() -> None:
    """If this fails, aiohttp renamed a private name that _compat.py relies on."""
    server = web.Server(lambda request: None)  # type: ignore[arg-type,return-value]
    assert isinstance(_compat.server_kwargs(server), dict)
    assert _compat.app_handler_args(web.Application(handler_args={"a": 1})) == {"a": 1}
    assert _compat.app_handler_args(web.Application()) == {}
    assert _compat.server_loop(server) is not None
    assert callable(web.BaseRequest._cancel) and callable(web.BaseRequest._finish)
    assert callable(web.RequestHandler.handle_error)
    from aiohttp import web as aiohttp_web

    assert callable(aiohttp_web._cancel_tasks)
    assert aiohttp.__version__ in _compat.CHECKED_AIOHTTP_VERSIONS


async def test_compat_server_connection_registry() -> None:
    """``web.Server.connection_lost`` still reads ``_task_handler``: without
    ``ServerConnection`` a connection that is not a RequestHandler breaks it."""

    class Plain:
        pass

    class Registered(_compat.ServerConnection):
        pass

    server = web.Server(_handler)
    transport: Any = object()
    plain = Plain()
    server.connection_made(plain, transport)  # type: ignore[arg-type]
    with pytest.raises(AttributeError, match="_task_handler"):
        server.connection_lost(plain)  # type: ignore[arg-type]
    registered = Registered()
    server.connection_made(registered, transport)  # type: ignore[arg-type]
    assert registered in server.connections  # type: ignore[comparison-overlap]
    server.connection_lost(registered)  # type: ignore[arg-type]
    assert registered not in server.connections  # type: ignore[comparison-overlap]


async def test_compat_app_runner_builds_its_server_through_the_hook() -> None:
    """``web.AppRunner.setup`` still builds its server with ``_make_server``, after the
    startup signals and with ``handler_args`` merged."""
    wrapped: list[web.Server] = []

    class Runner(_compat.HookedAppRunner):
        def wrap_server(self, stock: web.Server) -> web.Server:
            wrapped.append(stock)
            return stock

    app = web.Application(handler_args={"keepalive_timeout": 3.5})
    started: list[bool] = []

    async def on_startup(app: web.Application) -> None:
        started.append(not wrapped)

    app.on_startup.append(on_startup)
    runner = Runner(app)
    await runner.setup()
    try:
        assert started == [True] and wrapped == [runner.server]
        assert _compat.server_kwargs(wrapped[0])["keepalive_timeout"] == 3.5
    finally:
        await runner.cleanup()


async def test_compat_test_server_builds_its_runner_through_the_hook() -> None:
    """``aiohttp.test_utils.TestServer.start_server`` still asks ``_make_runner``."""
    from aiohttp.test_utils import TestServer

    made: list[dict[str, Any]] = []

    class Hooked(_compat.TestServerHooks, TestServer):
        def make_runner(self, **kwargs: Any) -> web.BaseRunner:
            made.append(kwargs)
            return web.AppRunner(self.app, **kwargs)

    server = Hooked(web.Application())
    await server.start_server()
    try:
        assert made and made[0].get("handler_cancellation") is True
    finally:
        await server.close()


def test_compat_gunicorn_worker_hooks() -> None:
    """aiohttp's worker still serves from ``_run``, which asks the instance for
    ``_create_ssl_context(cfg)`` (a static method there) and derives the access log
    format with ``_get_valid_log_format``."""
    import inspect

    from aiohttp.worker import GunicornWebWorker

    from aiohttp_h2.worker import GunicornH2Worker

    run_source = inspect.getsource(GunicornWebWorker._run)
    assert "self._create_ssl_context(self.cfg)" in run_source
    assert "self._get_valid_log_format(" in run_source
    assert isinstance(inspect.getattr_static(GunicornWebWorker, "_create_ssl_context"), staticmethod)
    assert GunicornH2Worker._run is _compat.GunicornWorkerHooks._run
    assert GunicornH2Worker._create_ssl_context is _compat.GunicornWorkerHooks._create_ssl_context
    worker = GunicornWebWorker.__new__(GunicornWebWorker)
    fmt = GunicornWebWorker.DEFAULT_GUNICORN_LOG_FORMAT
    assert _compat.worker_log_format(worker, fmt) == GunicornWebWorker.DEFAULT_AIOHTTP_LOG_FORMAT
    with pytest.raises(ValueError):
        _compat.worker_log_format(worker, "%(h)s")


def test_compat_aiohttp_worker_ssl_context(tmp_path: Any) -> None:
    """aiohttp's own worker context, from gunicorn's config attributes."""
    import ssl

    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("localhost")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.cert_chain_pems[0].write_to_path(certfile)
    cert.private_key_pem.write_to_path(keyfile)

    class Cfg:
        ssl_version = ssl.PROTOCOL_TLS_SERVER
        cert_reqs = ssl.CERT_NONE
        ca_certs = None
        ciphers = None

    Cfg.certfile, Cfg.keyfile = str(certfile), str(keyfile)  # type: ignore[attr-defined]
    context = _compat.aiohttp_worker_ssl_context(Cfg())
    assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_NONE


@pytest.mark.parametrize("library", ["h2", "aiohttp"])
async def test_unchecked_version_warns_once(library: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A release outside CHECKED_*_VERSIONS: the first Server warns, the next does not."""
    import warnings

    import h2

    from aiohttp_h2 import _versions

    monkeypatch.setattr(_versions, "_warned", False)
    monkeypatch.setattr(h2 if library == "h2" else aiohttp, "__version__", "99.0.0")
    with pytest.warns(aiohttp_h2.UncheckedVersionWarning, match=f"{library} 99.0.0 \\(checked: "):
        aiohttp_h2.Server(_handler)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        aiohttp_h2.Server(_handler)


async def test_checked_versions_cover_installed_and_lowest_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compat modules were checked against the installed releases and the lowest
    ones pyproject allows; with those installed no Server warns."""
    import tomllib
    import warnings
    from pathlib import Path

    import h2

    from aiohttp_h2 import _h2compat, _versions

    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    lowest = dict(dep.split(">=", 1) for dep in pyproject["project"]["dependencies"] if ">=" in dep)
    assert lowest["h2"].split(",")[0] in _h2compat.CHECKED_H2_VERSIONS
    assert lowest["aiohttp"].split(",")[0] in _compat.CHECKED_AIOHTTP_VERSIONS
    assert h2.__version__ in _h2compat.CHECKED_H2_VERSIONS
    assert aiohttp.__version__ in _compat.CHECKED_AIOHTTP_VERSIONS
    monkeypatch.setattr(_versions, "_warned", False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        aiohttp_h2.Server(_handler)
    assert _versions._warned


def test_http2_version_semantics() -> None:
    assert HTTP2 == HttpVersion(2, 0)
    assert HTTP2.major == 2 and HTTP2.minor == 0
    assert not (HTTP2 != HttpVersion11)  # HTTP/1.1 message semantics (chunking allowed)
    assert HTTP2 != HttpVersion(1, 0)
    assert HTTP2 >= HttpVersion11


def test_request_headers_to_message() -> None:
    head = parse_request_headers(
        [
            (b":method", b"GET"),
            (b":scheme", b"https"),
            (b":authority", b"example.com"),
            (b":path", b"/a%20b?x=1&y=2"),
            (b"cookie", b"a=1; b=2"),
            (b"expect", b"100-continue"),
            (b"content-encoding", b"GZIP"),
        ],
        max_headers=10,
        max_field_size=100,
        max_header_list_size=4096,
    )
    message = head.message
    assert head.expect_continue
    assert message.method == "GET" and message.path == "/a%20b?x=1&y=2"
    assert message.url.path == "/a b" and message.url.query["y"] == "2"
    assert message.headers["Host"] == "example.com"
    assert message.compression == "gzip" and not message.should_close and not message.chunked


@pytest.mark.parametrize(
    "headers,status",
    [
        ([(b":method", b"GET"), (b":path", b"no-slash")], None),
        ([(b":method", b"GET"), (b":path", b"/a b")], None),
        ([(b":method", b"GET"), (b":path", b"*")], None),
        ([(b":method", b"GET"), (b":path", b"/"), (b"x", b"y" * 200)], 431),
        ([(b":method", b"GET"), (b":path", b"/")] + [(b"h%d" % i, b"v") for i in range(20)], 431),
    ],
)
def test_request_headers_rejected(headers: list[tuple[bytes, bytes]], status: int | None) -> None:
    with pytest.raises(RequestRejected) as info:
        parse_request_headers(headers, max_headers=10, max_field_size=100, max_header_list_size=4096)
    assert info.value.status == status


def test_response_block_drops_connection_specific_fields() -> None:
    from multidict import CIMultiDict

    headers = CIMultiDict(
        [
            ("Content-Type", "text/plain"),
            ("Connection", "close, X-Hop"),
            ("X-Hop", "1"),
            ("Keep-Alive", "timeout=5"),
            ("Transfer-Encoding", "chunked"),
            ("Upgrade", "h2c"),
            ("Proxy-Connection", "keep-alive"),
            ("TE", "gzip"),
            ("X-Kept", "yes"),
        ]
    )
    block, size = response_header_block(200, headers)
    assert block == [(b":status", b"200"), (b"content-type", b"text/plain"), (b"x-kept", b"yes")]
    assert size > 0
    with pytest.raises(ValueError):
        response_header_block(200, CIMultiDict([("X-Bad", "a\r\nb")]))


def test_h2_internals_we_override_still_exist() -> None:
    """If this fails, h2 moved an internal that _h2compat overrides (see also tests/test_h2compat.py)."""
    import h2
    import h2.connection
    import h2.exceptions
    import h2.frame_buffer
    import h2.stream

    from aiohttp_h2 import _h2compat

    assert h2.__version__ in _h2compat.CHECKED_H2_VERSIONS
    for name in (
        "_receive_frame",
        "_handle_data_on_closed_stream",
        "_receive_headers_frame",
        "_stream_is_closed_by_end",
        "_stream_closed_by",
    ):
        assert callable(getattr(h2.connection.H2Connection, name)), name
    # _frame_on_closed_stream tells h2's first stream error on a stream (which carries
    # its StreamReset event) from later frames on it.
    assert h2.exceptions.StreamClosedError(1)._events == []
    assert h2.stream.StreamClosedBy.SEND_RST_STREAM
    assert callable(h2.frame_buffer.FrameBuffer._validate_frame_length)
    buffer = h2.frame_buffer.FrameBuffer(server=True)
    assert hasattr(buffer, "_data")
    conn = _h2compat.H2StateMachine(config=_h2compat.H2_CONFIG)
    assert isinstance(conn.incoming_buffer, h2.frame_buffer.FrameBuffer)
    assert hasattr(buffer, "_headers_buffer") and callable(buffer._update_header_buffer)
    for name in ("_frame_dispatch_table", "outbound_flow_control_window", "state_machine", "streams"):
        assert hasattr(conn, name), name
    assert h2.frame_buffer.CONTINUATION_BACKLOG >= _h2compat.MAX_HEADER_BLOCK_FRAMES
    for name in ("_receive_goaway_frame", "_prepare_for_sending", "_stream_closed_by"):
        assert callable(getattr(h2.connection.H2Connection, name)), name
    assert isinstance(conn._data_to_send, bytearray)
    assert h2.stream.StreamClosedBy.SEND_RST_STREAM

    import hpack

    for name in ("_decode_indexed", "_decode_literal"):  # counted by _CountingDecoder
        assert callable(getattr(hpack.Decoder, name)), name
    import h2.stream

    stream = h2.stream.H2Stream(1, h2.config.H2Configuration(), 65535, 65535)
    assert hasattr(stream, "outbound_flow_control_window") and hasattr(stream, "closed")


#: PRIORITY of 4 octets on stream 1 (RFC 9113 §6.3: stream error FRAME_SIZE_ERROR).
_BAD_PRIORITY_ON_1 = b"\x00\x00\x04\x02\x00\x00\x00\x00\x01\x80\x00\x00\x01"


def _served_stream_one(end_response: bool) -> Any:
    """A server state machine past the preface, with a GET on stream 1 read and (if
    ``end_response``) answered; nothing left to send."""
    import hpack
    from hyperframe.frame import HeadersFrame, SettingsFrame

    from aiohttp_h2 import _h2compat

    conn = _h2compat.H2StateMachine(config=_h2compat.H2_CONFIG)
    conn.initiate_connection()
    block = hpack.Encoder().encode([(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "a")])
    request = HeadersFrame(1, block, flags=["END_HEADERS", "END_STREAM"])
    conn.receive_data(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + SettingsFrame(0).serialize() + request.serialize())
    if end_response:
        conn.send_headers(1, [(b":status", b"204")], end_stream=True)
    conn.data_to_send()
    return conn


def _frames(data: bytes) -> list[Any]:
    from hyperframe.frame import Frame

    frames = []
    while data:
        frame, length = Frame.parse_frame_header(memoryview(data[:9]))
        frame.parse_body(memoryview(data[9 : 9 + length]))
        frames.append(frame)
        data = data[9 + length :]
    return frames


def test_peer_goaway_keeps_what_h2_queued() -> None:
    """h2 4.4.1 empties its outbound buffer when a GOAWAY arrives; ``H2StateMachine``
    keeps it (issue 9, item 3), and its connection stays open for the response."""
    import h2.connection
    import h2.events
    from hyperframe.frame import GoAwayFrame, HeadersFrame, PingFrame

    conn = _served_stream_one(end_response=False)
    conn.ping(b"12345678")
    events = conn.receive_data(GoAwayFrame(0, last_stream_id=0).serialize())
    assert any(isinstance(e, h2.events.ConnectionTerminated) for e in events)
    conn.send_headers(1, [(b":status", b"204")], end_stream=True)
    assert [type(f) for f in _frames(conn.data_to_send())] == [PingFrame, HeadersFrame]
    assert conn.state_machine.state != h2.connection.ConnectionState.CLOSED


def test_send_goaway_leaves_the_connection_open() -> None:
    """``send_goaway`` queues GOAWAY in order and h2 can still send the response after it."""
    from hyperframe.frame import GoAwayFrame, HeadersFrame

    conn = _served_stream_one(end_response=False)
    conn.send_goaway(2**31 - 1)
    conn.send_headers(1, [(b":status", b"204")], end_stream=True)
    goaway, headers = _frames(conn.data_to_send())
    assert isinstance(goaway, GoAwayFrame) and goaway.last_stream_id == 2**31 - 1 and goaway.error_code == 0
    assert isinstance(headers, HeadersFrame) and headers.stream_id == 1


def test_stream_error_on_a_closed_stream_is_answered() -> None:
    """A PRIORITY of 4 octets on a stream whose request and response are complete:
    RST_STREAM(FRAME_SIZE_ERROR), counted as a control frame (issue 9, item 11)."""
    from hyperframe.frame import RstStreamFrame

    conn = _served_stream_one(end_response=True)
    conn.control_frames = 0
    assert conn.receive_data(_BAD_PRIORITY_ON_1) == []
    (reset,) = _frames(conn.data_to_send())
    assert isinstance(reset, RstStreamFrame) and reset.stream_id == 1 and reset.error_code == 6
    assert conn.control_frames == 1


def test_stream_error_after_our_reset_is_ignored() -> None:
    """RFC 9113 §5.1: frames that crossed our RST_STREAM are ignored, even malformed ones."""
    conn = _served_stream_one(end_response=False)
    conn.reset_stream(1, 8)
    conn.data_to_send()
    assert conn.receive_data(_BAD_PRIORITY_ON_1) == []
    assert conn.data_to_send() == b""


def test_received_frames_are_dispatched_with_a_cheap_repr() -> None:
    """Frames leave our buffer as subclasses whose repr does not hex-encode payloads,
    and h2 dispatches those subclasses like their bases."""
    from hyperframe.frame import DataFrame, SettingsFrame

    from aiohttp_h2 import _h2compat

    conn = _h2compat.H2StateMachine(config=_h2compat.H2_CONFIG)
    conn.initiate_connection()
    conn.data_to_send()
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + SettingsFrame(0).serialize()
    events = conn.receive_data(preface)
    assert events  # RemoteSettingsChanged: the subclass went through h2's dispatch
    conn.incoming_buffer.add_data(DataFrame(1, b"x" * 16384).serialize())
    frame = next(conn.incoming_buffer)
    assert isinstance(frame, DataFrame) and type(frame) is not DataFrame
    assert type(frame) in conn._frame_dispatch_table
    assert len(repr(frame)) < 64 and "DataFrame" in repr(frame)


def test_frames_on_closed_streams_cost_control_budget() -> None:
    """Frames on a stream the peer reset are answered with RST_STREAM(STREAM_CLOSED),
    frames on a stream we reset are dropped unanswered (RFC 9113 §5.1); both count as
    control frames, the empty and the non-empty alike (socket-free)."""
    import h2.config
    import h2.connection
    from hyperframe.frame import DataFrame, Frame, HeadersFrame, RstStreamFrame

    from aiohttp_h2 import _h2compat

    server = _h2compat.H2StateMachine(config=_h2compat.H2_CONFIG)
    server.initiate_connection()
    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    client.initiate_connection()
    server.receive_data(client.data_to_send())
    request = [(b":method", b"POST"), (b":scheme", b"http"), (b":authority", b"h"), (b":path", b"/")]
    client.send_headers(1, request)
    client.reset_stream(1, 0x8)  # the peer's reset
    client.send_headers(3, request)
    server.receive_data(client.data_to_send())
    server.reset_stream(3, 0x7)  # ours
    server.data_to_send()

    def answers(data: bytes) -> tuple[list[int], int]:
        before = server.control_frames
        server.receive_data(data)
        out, frames = server.data_to_send(), []
        while out:
            frame, length = Frame.parse_frame_header(memoryview(out[:9]))
            frame.parse_body(memoryview(out[9 : 9 + length]))
            frames.append(frame)
            out = out[9 + length :]
        return [f.stream_id for f in frames if isinstance(f, RstStreamFrame)], server.control_frames - before

    late = [DataFrame(sid, b"x").serialize() for sid in (1, 3)] + [DataFrame(sid, b"").serialize() for sid in (1, 3)]
    late += [HeadersFrame(sid, b"", flags=["END_HEADERS", "END_STREAM"]).serialize() for sid in (1, 3)]
    for data in late:
        resets, counted = answers(data)
        assert counted == 1, data
        assert resets == ([1] if data[5:9] == b"\x00\x00\x00\x01" else []), data


def test_response_block_validates_what_h2_no_longer_checks() -> None:
    """h2's outbound validation is off; these checks stand in for it (RFC 9113 §8.2.1)."""
    from multidict import CIMultiDict

    block, _ = response_header_block(200, CIMultiDict([("X-Padded", "  value \t")]))
    assert block[1] == (b"x-padded", b"value")
    for bad in (("Bad Name", "v"), ("bad:name", "v"), ("", "v"), ("X-Nul", "a\x00b"), ("X-Lf", "a\nb")):
        with pytest.raises(ValueError):
            response_header_block(200, CIMultiDict([bad]))


def test_receive_step_counts_header_fields_as_work() -> None:
    """One step stops after ``max_work`` units, a frame and each of its header fields
    one unit each; a block beyond the field bound is a connection error
    ENHANCE_YOUR_CALM before the rest of it is decoded."""
    import h2.connection
    import h2.errors
    import h2.events
    import h2.exceptions
    from hyperframe.frame import HeadersFrame, SettingsFrame

    from aiohttp_h2 import _h2compat

    client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
    request = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"x"), (b":path", b"/")]

    def block(fields: int) -> bytes:
        return bytes(client.encoder.encode(request)) + b"\x90" * fields  # accept-encoding: gzip, deflate

    conn = _h2compat.H2StateMachine(config=_h2compat.H2_CONFIG)
    conn.initiate_connection()
    conn.set_max_header_fields(261)
    preface = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + SettingsFrame(0).serialize()
    assert conn.receive_step(preface, 100)[0]
    flags = ["END_HEADERS", "END_STREAM"]
    requests = b"".join(HeadersFrame(1 + 2 * n, block(96), flags=flags).serialize() for n in range(5))
    events, used = conn.receive_step(requests, 150)
    assert [type(e) for e in events].count(h2.events.RequestReceived) == 2  # 101 units each
    assert used == 2 * (1 + 4 + 96)
    events, used = conn.receive_step(b"", 1000)
    assert [type(e) for e in events].count(h2.events.RequestReceived) == 3
    assert used < 1000  # nothing left: the input is consumed

    with pytest.raises(h2.exceptions.DenialOfServiceError) as caught:
        conn.receive_step(HeadersFrame(11, block(300), flags=flags).serialize(), 100)
    assert caught.value.error_code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
