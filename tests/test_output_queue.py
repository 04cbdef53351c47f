"""The connection's output queue (``aiohttp_h2.output``), socket-free: a real h2 server
state machine frames into the queue, a plain h2 client reads what it would write."""

from __future__ import annotations

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import pytest

from aiohttp_h2._h2compat import H2_CONFIG, H2StateMachine
from aiohttp_h2.output import FLUSH_BUDGET, Ending, OutputQueue
from aiohttp_h2.sendbuf import SendBuffer

REQUEST = [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"x"), (b":path", b"/")]
RESPONSE = [(b":status", b"200")]
TRAILERS = [(b"grpc-status", b"0")]


class Pair:
    """A server state machine with its queue, and a client that reads the queue's writes."""

    def __init__(self, streams: int = 1) -> None:
        self.server = H2StateMachine(config=H2_CONFIG)
        self.client = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding=None))
        self.queue = OutputQueue(self.server)
        self.client.initiate_connection()
        self.server.initiate_connection()
        for n in range(streams):
            self.client.send_headers(1 + 2 * n, REQUEST, end_stream=True)
        self.server.receive_data(self.client.data_to_send())
        self.deliver()

    def deliver(self) -> list[tuple[str, int | None]]:
        """Write what the queue holds to the client: (event, stream id) in order."""
        self.queue.collect()
        data = self.queue.take()
        events = self.client.receive_data(bytes(data)) if data is not None else []
        self.server.receive_data(self.client.data_to_send())
        self.server.data_to_send()  # the server's SETTINGS ACK and the like: not under test
        return [(type(e).__name__, getattr(e, "stream_id", None)) for e in events if not _noise(e)]


def _noise(event: h2.events.Event) -> bool:
    return isinstance(event, (h2.events.RemoteSettingsChanged, h2.events.SettingsAcknowledged))


def body(*chunks: bytes) -> SendBuffer:
    buffer = SendBuffer()
    for chunk in chunks:
        buffer.append(chunk)
    return buffer


def test_headers_before_data_and_end_on_the_last_frame() -> None:
    pair = Pair(streams=2)
    q = pair.queue
    pair.server.send_headers(1, RESPONSE)
    buffer = body(b"a" * 40_000)
    q.collect()  # the batch starts with h2's bytes
    assert q.frame(1, buffer, 40_000, 16_384, end=True) == 3
    pair.server.send_headers(3, RESPONSE)  # after stream 1's DATA was framed...
    q.collect()
    assert q.frame(3, body(), 0, 16_384, end=True) == 1  # ...and before stream 3's end
    assert pair.deliver() == [
        ("ResponseReceived", 1),
        ("DataReceived", 1),
        ("DataReceived", 1),
        ("DataReceived", 1),
        ("StreamEnded", 1),
        ("ResponseReceived", 3),
        ("DataReceived", 3),
        ("StreamEnded", 3),
    ]


def test_trailers_held_until_the_last_data_frame() -> None:
    pair = Pair()
    q = pair.queue
    pair.server.send_headers(1, RESPONSE)
    buffer = body(b"x" * 30_000)
    q.hold_trailers(1, TRAILERS)
    assert q.ending(1) is Ending.TRAILERS
    q.collect()
    q.frame(1, buffer, 10_000, 16_384, end=False)  # not the end: the trailers wait
    first = pair.deliver()
    assert first == [("ResponseReceived", 1), ("DataReceived", 1)]
    q.collect()
    assert q.frame(1, buffer, 20_000, 16_384, end=True) == 2  # no END_STREAM on DATA
    assert q.ending(1) is Ending.END  # sent: nothing held any more
    assert pair.deliver() == [
        ("DataReceived", 1),
        ("DataReceived", 1),
        ("TrailersReceived", 1),
        ("StreamEnded", 1),
    ]


def test_trailers_alone_end_a_stream_with_an_empty_body() -> None:
    pair = Pair()
    q = pair.queue
    pair.server.send_headers(1, RESPONSE)
    q.hold_trailers(1, TRAILERS)
    q.collect()
    assert q.frame(1, body(), 0, 16_384, end=True) == 0  # no DATA frame at all
    assert pair.deliver() == [("ResponseReceived", 1), ("TrailersReceived", 1), ("StreamEnded", 1)]


def test_forgotten_stream_drops_its_trailers() -> None:
    q = Pair().queue
    q.hold_trailers(1, TRAILERS)
    q.forget(1)
    assert q.ending(1) is Ending.END


def test_budget_spent_by_framing_and_refilled_per_write() -> None:
    pair = Pair()
    q = pair.queue
    pair.server.send_headers(1, RESPONSE)
    q.collect()
    q.frame(1, body(b"y" * 1000), 1000, 16_384, end=False)
    assert q.budget == FLUSH_BUDGET - 1000
    q.refill()
    assert q.budget == FLUSH_BUDGET


def test_a_stream_h2_cannot_send_on_queues_nothing() -> None:
    pair = Pair()
    q = pair.queue
    pair.server.send_headers(1, RESPONSE, end_stream=True)
    q.collect()
    q.take()
    with pytest.raises(h2.exceptions.ProtocolError):
        q.frame(1, body(b"z" * 10), 10, 16_384, end=True)
    assert not q and q.budget == FLUSH_BUDGET


def test_take_joins_and_empties_and_drop_discards_h2s_buffer() -> None:
    pair = Pair()
    q = pair.queue
    assert q.take() is None
    pair.server.send_headers(1, RESPONSE)
    q.collect()
    q.frame(1, body(b"a", b"b"), 2, 16_384, end=True)
    data = q.take()
    assert isinstance(data, bytes) and data.endswith(b"ab") and not q
    pair.server.ping(b"12345678")
    q.drop()
    assert not q and pair.server.data_to_send() == b""
