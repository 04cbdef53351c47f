"""The h2 overrides of ``aiohttp_h2._h2compat``, one by one, against plain h2 (socket-free).

For each override: a test that fails if the h2 name it overrides moves or changes
its parameters, and a test that plain ``h2.connection.H2Connection`` still behaves the
way the override corrects, next to the corrected behaviour. When a ``test_plain_h2_*``
test fails, h2 fixed it: the override (and that test) can go. ``account_data`` is
compared with h2's own ``send_data`` (differential test).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.frame_buffer
import h2.settings
import h2.stream
import hpack
import pytest
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    RstStreamFrame,
    SettingsFrame,
)

from aiohttp_h2 import _h2compat
from aiohttp_h2._h2compat import bounds, flood, rfc, speed

ErrorCodes = h2.errors.ErrorCodes
Plain = h2.connection.H2Connection
Ours = _h2compat.H2StateMachine
MAGIC = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
PREFACE = MAGIC + SettingsFrame(0).serialize()
REQUEST = [(":method", "POST"), (":scheme", "http"), (":path", "/"), (":authority", "a")]

#: (our class, h2's class, method name): every h2 method an override replaces.
OVERRIDDEN_METHODS = [
    (rfc.RfcStateMachine, Plain, "_receive_frame"),
    (rfc.RfcStateMachine, Plain, "_receive_priority_frame"),
    (rfc.RfcStateMachine, Plain, "_receive_goaway_frame"),
    (rfc.RfcStateMachine, Plain, "_receive_rst_stream_frame"),
    (rfc.RfcStateMachine, Plain, "_handle_data_on_closed_stream"),
    (rfc.RfcStateMachine, Plain, "_receive_headers_frame"),
    (flood.FloodAccountingStateMachine, Plain, "_receive_frame"),
    (rfc.RfcFrameBuffer, h2.frame_buffer.FrameBuffer, "__next__"),
    (bounds.BoundedFrameBuffer, h2.frame_buffer.FrameBuffer, "__next__"),
    (bounds.BoundedFrameBuffer, h2.frame_buffer.FrameBuffer, "_update_header_buffer"),
    (bounds.BoundedFrameBuffer, h2.frame_buffer.FrameBuffer, "__init__"),
    (flood.BudgetedFrameBuffer, h2.frame_buffer.FrameBuffer, "__next__"),
    (speed.QuietFrameBuffer, h2.frame_buffer.FrameBuffer, "__next__"),
    (bounds.FieldCountingDecoder, hpack.Decoder, "decode"),
    (bounds.FieldCountingDecoder, hpack.Decoder, "_decode_indexed"),
    (bounds.FieldCountingDecoder, hpack.Decoder, "_decode_literal"),
    (flood.BudgetedDecoder, hpack.Decoder, "decode"),
]


@pytest.mark.parametrize(("ours", "theirs", "name"), OVERRIDDEN_METHODS, ids=lambda v: getattr(v, "__name__", v))
def test_overridden_h2_method_still_exists(ours: type, theirs: type, name: str) -> None:
    """h2 (or hpack) still has the method, with the parameters our override takes."""
    assert name in vars(ours), name
    original = inspect.getattr_static(theirs, name)
    assert callable(original), name
    if name == "__init__" and ours is flood.BudgetedDecoder:
        return
    assert list(inspect.signature(original).parameters) == list(inspect.signature(vars(ours)[name]).parameters)


def test_h2_names_the_layers_read_still_exist() -> None:
    """Attributes and helpers of h2 the layers read or call, beyond the overridden methods."""
    for name in ("_stream_closed_by", "_stream_is_closed_by_end", "_prepare_for_sending", "local_flow_control_window"):
        assert callable(getattr(Plain, name)), name
    assert Plain.MAX_CLOSED_STREAMS and isinstance(Plain.MAX_CLOSED_STREAMS, int)
    conn = Plain(config=_h2compat.H2_CONFIG)
    for name in ("_frame_dispatch_table", "highest_inbound_stream_id", "highest_outbound_stream_id", "streams"):
        assert hasattr(conn, name), name
    assert isinstance(conn._data_to_send, bytearray)
    assert isinstance(conn.incoming_buffer, h2.frame_buffer.FrameBuffer)
    assert isinstance(conn.decoder, hpack.Decoder)
    assert isinstance(h2.connection.H2ConnectionStateMachine._transitions, dict)
    buffer = h2.frame_buffer.FrameBuffer(server=True)
    assert isinstance(buffer._data, bytearray) and buffer._headers_buffer == []
    assert callable(buffer._validate_frame_length)
    assert h2.frame_buffer.CONTINUATION_BACKLOG >= _h2compat.MAX_HEADER_BLOCK_FRAMES
    assert h2.exceptions.StreamClosedError(1)._events == []
    assert h2.stream.StreamClosedBy.SEND_RST_STREAM
    assert isinstance(inspect.getattr_static(h2.settings.Settings, "max_concurrent_streams"), property)
    for state_input in ("SEND_DATA", "RECV_PRIORITY", "SEND_RST_STREAM", "RECV_GOAWAY"):
        assert hasattr(h2.connection.ConnectionInputs, state_input), state_input
    assert h2.stream.StreamInputs.SEND_DATA and h2.stream.StreamInputs.SEND_END_STREAM
    source = inspect.getsource(Plain._receive_headers_frame)
    assert "self.local_settings.max_concurrent_streams" in source  # what LocalSettings raises


# --- helpers ------------------------------------------------------------------------


def server(cls: type[Plain] = Ours) -> Any:
    """A server past the preface (its own SETTINGS sent, the peer's received)."""
    conn = cls(config=_h2compat.H2_CONFIG)
    conn.initiate_connection()
    conn.receive_data(PREFACE)
    conn.data_to_send()
    return conn


def headers(stream_id: int, end_stream: bool = True, extra: tuple[tuple[str, str], ...] = (), **kw: Any) -> bytes:
    block = hpack.Encoder().encode([*REQUEST, *extra])  # a fresh encoder: no dynamic-table references
    flags = ["END_HEADERS", "END_STREAM"] if end_stream else ["END_HEADERS"]
    return bytes(HeadersFrame(stream_id, block, flags=flags + kw.pop("more_flags", []), **kw).serialize())


def outcome(conn: Any, data: bytes) -> tuple[str, Any]:
    """("events", [event types]) or ("error", error code) for one ``receive_data``."""
    try:
        return "events", [type(e) for e in conn.receive_data(data)]
    except h2.exceptions.ProtocolError as exc:
        return "error", exc.error_code


def both(setup: Callable[[Any], Any], data: bytes) -> tuple[tuple[str, Any], tuple[str, Any]]:
    plain, ours = server(Plain), server(Ours)
    setup(plain)
    setup(ours)
    return outcome(plain, data), outcome(ours, data)


def opened(conn: Any) -> None:
    conn.receive_data(headers(1, end_stream=False))


def nothing(conn: Any) -> None:
    pass


RESET = ("events", [h2.events.StreamReset])


# --- rfc ----------------------------------------------------------------------------


def test_plain_h2_makes_a_wrong_body_length_a_connection_error() -> None:
    data = DataFrame(1, b"abc", flags=["END_STREAM"]).serialize()
    plain, ours = both(lambda c: c.receive_data(headers(1, False, (("content-length", "5"),))), data)
    assert plain == ("error", ErrorCodes.PROTOCOL_ERROR)
    assert ours == ("events", [rfc.BodyLengthMismatch])


def test_plain_h2_answers_an_hpack_error_with_protocol_error() -> None:
    data = HeadersFrame(1, b"\x80", flags=["END_HEADERS"]).serialize()  # index 0
    assert both(nothing, data) == (("error", ErrorCodes.PROTOCOL_ERROR), ("error", ErrorCodes.COMPRESSION_ERROR))


def test_plain_h2_answers_a_settings_ack_with_payload_with_protocol_error() -> None:
    data = b"\x00\x00\x06\x04\x01\x00\x00\x00\x00" + bytes(6)
    assert both(nothing, data) == (("error", ErrorCodes.PROTOCOL_ERROR), ("error", ErrorCodes.FRAME_SIZE_ERROR))


def test_plain_h2_makes_a_short_priority_a_connection_error() -> None:
    data = b"\x00\x00\x04\x02\x00\x00\x00\x00\x01\x80\x00\x00\x01"
    assert both(opened, data) == (("error", ErrorCodes.FRAME_SIZE_ERROR), RESET)


def test_plain_h2_makes_a_zero_window_update_on_a_stream_a_connection_error() -> None:
    data = b"\x00\x00\x04\x08\x00\x00\x00\x00\x01\x00\x00\x00\x00"
    assert both(opened, data) == (("error", ErrorCodes.PROTOCOL_ERROR), RESET)


def test_plain_h2_makes_a_self_dependency_a_connection_error() -> None:
    get = [(":method", "GET"), (":scheme", "http"), (":path", "/"), (":authority", "a")]
    frame = HeadersFrame(1, hpack.Encoder().encode(get), flags=["END_HEADERS", "END_STREAM", "PRIORITY"])
    frame.depends_on, frame.stream_weight = 1, 16
    assert both(nothing, frame.serialize()) == (("error", ErrorCodes.PROTOCOL_ERROR), RESET)
    priority = PriorityFrame(1, depends_on=1, stream_weight=16).serialize()
    assert both(opened, priority) == (("error", ErrorCodes.PROTOCOL_ERROR), RESET)


def test_plain_h2_accepts_a_preface_not_followed_by_settings() -> None:
    for cls, expected in ((Plain, ("events", [h2.events.PingReceived])), (Ours, ("error", ErrorCodes.PROTOCOL_ERROR))):
        conn = cls(config=_h2compat.H2_CONFIG)
        conn.initiate_connection()
        assert outcome(conn, MAGIC + PingFrame(0, b"12345678").serialize()) == expected, cls


def test_plain_h2_ignores_rst_stream_on_an_idle_stream_once_a_stream_opened() -> None:
    plain, ours = both(lambda c: c.receive_data(headers(1)), RstStreamFrame(5).serialize())
    assert plain == ("events", []) and ours == ("error", ErrorCodes.PROTOCOL_ERROR)


def test_plain_h2_closes_on_goaway_and_drops_what_it_queued() -> None:
    for cls, open_after, kept in ((Plain, False, False), (Ours, True, True)):
        conn = server(cls)
        conn.receive_data(headers(1))
        conn.ping(b"12345678")
        conn.receive_data(GoAwayFrame(0).serialize())
        assert (conn.state_machine.state != h2.connection.ConnectionState.CLOSED) is open_after, cls
        assert bool(conn.data_to_send()) is kept, cls


def test_plain_h2_close_connection_ends_every_stream() -> None:
    """Why ``send_goaway`` exists: after h2's own GOAWAY nothing more can be sent."""
    conn = server(Plain)
    conn.receive_data(headers(1))
    conn.close_connection()
    with pytest.raises(h2.exceptions.ProtocolError):
        conn.send_headers(1, [(b":status", b"204")], end_stream=True)
    ours = server(Ours)
    ours.receive_data(headers(1))
    ours.send_goaway(1)
    ours.send_headers(1, [(b":status", b"204")], end_stream=True)


def test_plain_h2_cannot_reset_a_closed_stream() -> None:
    """Why ``_reset_closed_stream`` queues the frame itself."""
    conn = server(Plain)
    conn.receive_data(headers(1))
    conn.send_headers(1, [(b":status", b"204")], end_stream=True)
    with pytest.raises(h2.exceptions.StreamClosedError):
        conn.reset_stream(1, ErrorCodes.FRAME_SIZE_ERROR)


def _finished(conn: Any) -> None:
    conn.receive_data(headers(1))
    conn.send_headers(1, [(b":status", b"204")], end_stream=True)
    conn.data_to_send()


def _reset_by_us(conn: Any) -> None:
    conn.receive_data(headers(1, end_stream=False))
    conn.reset_stream(1, ErrorCodes.CANCEL)
    conn.data_to_send()


def test_plain_h2_answers_data_on_a_finished_stream_with_a_stream_error() -> None:
    """RFC 9113 §5.1 "closed": a connection error STREAM_CLOSED."""
    data = DataFrame(1, b"x").serialize()
    plain, ours = both(_finished, data)
    assert plain == ("events", []) and ours == ("error", ErrorCodes.STREAM_CLOSED)


@pytest.mark.parametrize(
    "frame",
    [DataFrame(1, b"x").serialize(), HeadersFrame(1, b"", flags=["END_HEADERS", "END_STREAM"]).serialize()],
    ids=["DATA", "HEADERS"],
)
def test_plain_h2_answers_frames_after_our_reset(frame: bytes) -> None:
    """RFC 9113 §5.1: frames that crossed our RST_STREAM are ignored; h2 resets again."""
    answers = []
    for cls in (Plain, Ours):
        conn = server(cls)
        _reset_by_us(conn)
        conn.receive_data(frame)
        answers.append(conn.data_to_send())
    plain, ours = answers
    assert RstStreamFrame(1, error_code=ErrorCodes.STREAM_CLOSED).serialize() in plain
    assert ours == b""


def test_plain_h2_makes_streams_beyond_its_local_limit_a_connection_error() -> None:
    limit = {h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: 1}
    plain, ours = server(Plain), server(Ours)
    plain.local_settings = h2.settings.Settings(client=False, initial_values=limit)
    ours.local_settings = _h2compat.LocalSettings(client=False, initial_values=limit)
    for conn in (plain, ours):
        conn.receive_data(headers(1, end_stream=False))
    assert outcome(plain, headers(3, end_stream=False)) == ("error", ErrorCodes.PROTOCOL_ERROR)
    assert outcome(ours, headers(3, end_stream=False)) == ("events", [h2.events.RequestReceived])


# --- bounds -------------------------------------------------------------------------


def test_plain_h2_buffers_an_oversized_frame_before_checking_its_length() -> None:
    announce = (2**20).to_bytes(3, "big") + b"\x00\x00\x00\x00\x00\x01" + bytes(100)
    plain = h2.frame_buffer.FrameBuffer(server=False)
    plain.add_data(announce)
    assert list(plain) == []  # waits for the rest of the megabyte
    ours = bounds.BoundedFrameBuffer(server=False)
    ours.add_data(announce)
    with pytest.raises(h2.exceptions.FrameTooLargeError):
        next(ours)


def _header_block(frames: int, fragment: bytes) -> bytes:
    data = HeadersFrame(1, fragment).serialize()
    return data + b"".join(ContinuationFrame(1, fragment).serialize() for _ in range(frames - 1))


def test_plain_h2_joins_header_blocks_of_any_size() -> None:
    """No byte bound before decoding; its frame bound (CONTINUATION_BACKLOG) says PROTOCOL_ERROR."""
    data = _header_block(3, bytes(16000))
    plain = h2.frame_buffer.FrameBuffer(server=False)
    plain.max_frame_size = 2**14
    plain.add_data(data)
    assert list(plain) == []  # 48 kB held, waiting for END_HEADERS
    ours = bounds.BoundedFrameBuffer(server=False)
    ours.max_frame_size = 2**14
    ours.max_header_block_size = 32000
    ours.add_data(data)
    with pytest.raises(h2.exceptions.DenialOfServiceError):
        list(ours)
    many = _header_block(h2.frame_buffer.CONTINUATION_BACKLOG + 2, b"")
    plain = h2.frame_buffer.FrameBuffer(server=False)
    plain.add_data(many)
    with pytest.raises(h2.exceptions.ProtocolError) as caught:
        list(plain)
    assert caught.value.error_code == ErrorCodes.PROTOCOL_ERROR
    ours = bounds.BoundedFrameBuffer(server=False)
    ours.add_data(many)
    with pytest.raises(h2.exceptions.DenialOfServiceError):
        list(ours)


def test_plain_hpack_decodes_any_number_of_fields() -> None:
    block = bytes(hpack.Encoder().encode([("x-a", "b")])) + b"\xbe" * 1000  # 1000 more refs to it
    assert len(hpack.Decoder().decode(block)) == 1001  # 1 kB; only the decoded size (36 kB) is bounded
    ours = bounds.FieldCountingDecoder()
    ours.max_fields = 100
    with pytest.raises(hpack.OversizedHeaderListError):
        ours.decode(block)


def test_plain_h2_remembers_more_closed_streams() -> None:
    assert Plain.MAX_CLOSED_STREAMS > Ours.MAX_CLOSED_STREAMS
    assert server(Ours)._closed_streams._size_limit == Ours.MAX_CLOSED_STREAMS


# --- flood --------------------------------------------------------------------------


def test_plain_h2_takes_every_frame_of_one_read() -> None:
    pings = b"".join(PingFrame(0, bytes(8)).serialize() for _ in range(10))
    assert len(server(Plain).receive_data(pings)) == 10
    events, used = server(Ours).receive_step(pings, 4)
    assert len(events) == 4 and used == 4
    assert not hasattr(server(Plain), "control_frames")


# --- speed --------------------------------------------------------------------------


def test_plain_h2_reprs_every_received_frame(monkeypatch: pytest.MonkeyPatch) -> None:
    """h2 builds ``repr(frame)`` for its trace log whether or not it is on, and
    hyperframe hex-encodes the whole payload to show its first ten bytes."""
    import binascii

    import hyperframe.frame

    assert "repr(frame)" in inspect.getsource(Plain._receive_frame)
    encoded: list[int] = []
    original = binascii.hexlify

    def hexlify(data: bytes) -> bytes:
        encoded.append(len(data))
        return original(data)

    monkeypatch.setattr(hyperframe.frame.binascii, "hexlify", hexlify)
    repr(DataFrame(1, bytes(16384)))
    assert encoded == [16384]
    frame = DataFrame(1, bytes(16384))
    frame.__class__ = speed.QUIET_FRAMES[DataFrame]
    assert len(repr(frame)) < 64 and encoded == [16384]


def _responding(cls: type[Plain]) -> Any:
    """A server answering stream 1 (HEADERS sent), the peer's windows at their defaults."""
    conn = server(cls)
    conn.receive_data(headers(1, end_stream=True))
    conn.send_headers(1, [(b":status", b"200")])
    conn.data_to_send()
    return conn


def _state(conn: Any) -> tuple[Any, ...]:
    stream = conn.streams.get(1)
    return (
        conn.state_machine.state,
        conn.outbound_flow_control_window,
        conn.local_flow_control_window(1) if stream is not None and not stream.closed else None,
        stream.state_machine.state if stream is not None else None,
        stream.outbound_flow_control_window if stream is not None else None,
        stream.closed if stream is not None else None,
    )


def _h2_send_data(conn: Any, size: int, end_stream: bool) -> None:
    """h2's own send_data, one frame per ``max_outbound_frame_size``, as h2 requires."""
    step = conn.max_outbound_frame_size
    chunks = [bytes(min(step, size - at)) for at in range(0, size, step)] or [b""]
    for n, chunk in enumerate(chunks):
        conn.send_data(1, chunk, end_stream=end_stream and n == len(chunks) - 1)


def _error(action: Callable[..., None], *args: Any) -> type[BaseException] | None:
    try:
        action(*args)
    except Exception as exc:
        return type(exc)
    return None


@pytest.mark.parametrize("end_stream", [False, True])
@pytest.mark.parametrize(
    "sizes", [[0], [1], [16384], [16385], [65535], [1000, 30000, 34535], [65536], [65535, 1], [65000, 600]]
)
def test_account_data_leaves_the_state_send_data_leaves(sizes: list[int], end_stream: bool) -> None:
    """Windows, connection and stream states, and errors (beyond the window, on a
    closed stream) are the same after h2's send_data and after account_data."""
    plain, ours = _responding(Plain), _responding(Ours)
    assert _state(plain)[1:] == _state(ours)[1:]
    for n, size in enumerate(sizes):
        end = end_stream and n == len(sizes) - 1
        before = _state(ours)
        plain_error = _error(_h2_send_data, plain, size, end)
        ours_error = _error(ours.account_data, 1, size, end)
        assert plain_error == ours_error, (size, end)
        if plain_error is None:
            assert _state(plain) == _state(ours), (size, end)
            continue
        # Beyond the window: account_data refuses the whole batch and changes nothing;
        # h2 refuses the frame that does not fit (the only one, within a frame's size).
        assert _state(ours) == before
        if size <= plain.max_outbound_frame_size:
            assert _state(plain) == before
        return
    # Once ended, both refuse more DATA on the stream the same way.
    if end_stream and _state(plain)[-1]:
        assert _error(_h2_send_data, plain, 1, False) == _error(ours.account_data, 1, 1, False)
        assert _state(plain) == _state(ours)


# --- error codes --------------------------------------------------------------------


def test_error_codes_come_from_h2() -> None:
    """No module redefines an HTTP/2 error code or passes one as an integer literal:
    ``h2.errors.ErrorCodes`` (or the stream side's neutral ``ResetReason``) names them."""
    import ast
    from pathlib import Path

    import aiohttp_h2

    found = []
    for path in sorted(Path(aiohttp_h2.__file__).parent.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id in ErrorCodes.__members__:
                        found.append(f"{path.name}:{node.lineno} {target.id} =")
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            literal = [kw.value for kw in node.keywords if kw.arg == "error_code"]
            if node.func.attr in ("reset", "reset_stream", "_reset_for_peer") and node.args:
                literal.append(node.args[-1])
            if any(isinstance(v, ast.Constant) and isinstance(v.value, int) for v in literal):
                found.append(f"{path.name}:{node.lineno} {node.func.attr}(<int>)")
    assert found == []
