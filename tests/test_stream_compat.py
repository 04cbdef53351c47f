"""The private names aiohttp and asyncio read on a stream's objects (``_compat``'s
stream-side section). Each test fails if aiohttp stops reading the name where we say
it does (then the forwarding in ``_compat`` may go) or if our objects stop answering it.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import tempfile
from unittest import mock

import pytest
from aiohttp import http_writer, streams, web_protocol, web_ws
from aiohttp.test_utils import make_mocked_request

from aiohttp_h2._compat import ErrorPageHost, build_error_response
from aiohttp_h2.owner import ResetReason
from aiohttp_h2.transport import StreamTransport

from .test_stream_side import make_stream


def source_of(obj: object) -> str:
    return inspect.getsource(obj)  # type: ignore[arg-type]


async def test_reading_paused_is_what_aiohttp_flow_control_reads() -> None:
    assert "_protocol._reading_paused" in source_of(streams.FlowControlDataQueue.feed_data)
    stream, _ = await make_stream()
    stream.open_body(None)
    queue: streams.FlowControlDataQueue[bytes] = streams.FlowControlDataQueue(
        stream,  # type: ignore[arg-type]
        limit=4,
        loop=asyncio.get_running_loop(),
    )
    queue.feed_data(b"more than four", 14)
    assert stream._reading_paused is True and stream.reading_paused


async def test_paused_and_drain_helper_are_what_aiohttp_stream_writer_reads() -> None:
    drain = source_of(http_writer.StreamWriter.drain)
    assert "protocol._paused" in drain and "protocol._drain_helper()" in drain
    stream, _ = await make_stream(remote_ended=True, max_stream_send_buffer=1024)
    stream.send_headers([(b":status", b"200")], end_stream=False)
    writer = http_writer.StreamWriter(stream, asyncio.get_running_loop())  # type: ignore[arg-type]
    stream.send_body(b"x" * 2000, end_stream=False)  # the fake owner never sends it
    assert stream._paused is True
    waiting = asyncio.ensure_future(writer.drain())
    await asyncio.sleep(0)
    assert not waiting.done()  # waits on our drain
    stream.reset(ResetReason.CANCEL)
    with pytest.raises(ConnectionResetError):
        await waiting


async def test_timeout_ceil_threshold_is_what_websocket_heartbeats_read() -> None:
    assert "_protocol._timeout_ceil_threshold" in source_of(web_ws.WebSocketResponse)
    stream, _ = await make_stream()
    assert stream._timeout_ceil_threshold == stream.config.timeout_ceil_threshold == 5.0


def test_request_count_is_what_handle_error_reads(caplog: pytest.LogCaptureFixture) -> None:
    assert "self._request_count" in source_of(web_protocol.RequestHandler.handle_error)
    assert "_request_count" in web_protocol.RequestHandler.__slots__
    logger = logging.getLogger("test_stream_compat")
    host = ErrorPageHost(3, logger, debug=False)
    assert host._request_count == 3
    request = make_mocked_request("GET", "/", writer=mock.Mock(output_size=0))  # nothing sent yet
    response = build_error_response(host, request, 500, RuntimeError("boom"))
    assert response.status == 500 and "500" in str(response.text)


async def test_sendfile_compatible_makes_loop_sendfile_refuse_a_stream() -> None:
    assert "_sendfile_compatible" in source_of(asyncio.base_events.BaseEventLoop.sendfile)
    stream, _ = await make_stream(remote_ended=True)
    transport = stream.transport
    assert isinstance(transport, StreamTransport)
    with tempfile.TemporaryFile() as f:
        f.write(b"file")
        f.seek(0)
        with pytest.raises(NotImplementedError):
            await asyncio.get_running_loop().sendfile(transport, f)
