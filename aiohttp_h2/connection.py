"""The asyncio protocol of one HTTP/2 connection: I/O only.

``H2Protocol`` is what asyncio (or uvloop) calls: it feeds the peer's bytes to its
``session.H2Session``, which decides everything, and does what the session asks of
the socket (``SessionIO``): write, half-close, close, abort. It bounds the work one
read may do per loop turn (reading pauses while the rest waits for the next turn),
relays pause/resume of writing, and awaits a graceful shutdown. The module map of
the whole package is ``aiohttp_h2/README.md``.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from h2.errors import ErrorCodes

from ._compat import ServerConnection
from ._h2compat import H2StateMachine
from .lifecycle import ConnState
from .owner import ResetReason
from .sending import Shut
from .session import H2Session, max_header_fields

if TYPE_CHECKING:
    from .context import ServerContext
    from .stream import H2Stream
    from .upgrade import UpgradeRequest

__all__ = ("H2Protocol", "max_header_fields")

# Work one call of data_received may do (frames, plus one per decoded header field)
# before the loop gets control back; the rest of the input waits (see _defer_input).
_WORK_PER_TURN = 1000


class H2Protocol(ServerConnection, asyncio.Protocol):
    """One HTTP/2 connection. Created by the dispatcher once HTTP/2 is chosen."""

    def __init__(self, ctx: ServerContext, upgrade: UpgradeRequest | None = None) -> None:
        self.ctx = ctx
        self.loop = ctx.loop
        self._upgrade = upgrade
        self.transport: asyncio.Transport | None = None
        self.call_soon: Callable[[Callable[[], object]], object] = self.loop.call_soon  # SessionIO's
        self.session = H2Session(ctx, self, self.loop)
        self._input_handle: asyncio.Handle | None = None  # set while input waits for its turn
        self._done: asyncio.Future[None] | None = None  # set once the session stops writing

    # ---------------------------------------------------------------- asyncio
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses; same interface.
        self.transport = cast(asyncio.Transport, transport)
        session = self.session
        session.ssl_context = transport.get_extra_info("sslcontext")
        session.peername = transport.get_extra_info("peername")
        session.sockname = transport.get_extra_info("sockname")
        sock = transport.get_extra_info("socket")
        if sock is not None:
            _tune_socket(sock, keepalive=self.ctx.tcp_keepalive)
        self.ctx.server.connection_made(self, transport)
        upgrade, self._upgrade = self._upgrade, None
        session.start(upgrade)

    def data_received(self, data: bytes) -> None:
        if self.session.life.done_writing:
            return  # after our GOAWAY: read and discard until the peer closes (lingering)
        if self.session.receive(data, _WORK_PER_TURN):
            self._defer_input()

    def _defer_input(self) -> None:
        """This turn did its share of work: stop reading and continue with the input
        already buffered on the next loop iteration. One 256 KiB read can carry
        thousands of frames; the other connections must not wait for all of them."""
        if self._input_handle is None and self.transport is not None:
            self.transport.pause_reading()
            self._input_handle = self.loop.call_soon(self._continue_input)

    def _continue_input(self) -> None:
        self._input_handle = None
        self.data_received(b"")
        transport = self.transport
        if self._input_handle is None and transport is not None and not self.session.life.closed:
            # All buffered input is processed (or we are closing: lingering reads drop it).
            transport.resume_reading()

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: BaseException | None) -> None:
        session = self.session
        session.life.lost()
        session.deadlines.cancel_all()
        if self._input_handle is not None:
            self._input_handle.cancel()
            self._input_handle = None
        lost = ConnectionResetError("HTTP/2 connection lost")
        for stream in list(session.streams.values()):
            session._abort_stream(stream, lost)
        session.sending.clear()
        self.connection_done()
        self.ctx.server.connection_lost(self, exc)
        self.transport = None

    def pause_writing(self) -> None:
        self.session.pause_writing()

    def resume_writing(self) -> None:
        self.session.resume_writing()

    # ------------------------------------------------------ what others read
    @property
    def state(self) -> ConnState:
        """Where the connection is in its life (``lifecycle.ConnState``)."""
        return self.session.life.state

    @property
    def write_paused(self) -> bool:
        return self.session.write_paused

    @property
    def h2(self) -> H2StateMachine:
        return self.session.h2

    @property
    def streams(self) -> dict[int, H2Stream]:
        return self.session.streams

    # ---------------------------------------------- SessionIO (the session's)
    def write(self, data: bytes | memoryview) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def shut(self, data: bytes | memoryview | None) -> Shut:
        transport = self.transport
        if transport is None or transport.is_closing():
            return Shut.GONE
        if data is not None:
            transport.write(data)
        try:
            if not transport.can_write_eof():
                raise OSError("no half-close on this transport")
            transport.write_eof()  # after the buffered bytes
            return Shut.HALF_CLOSED
        except OSError:  # TLS, or the peer is already gone (ENOTCONN)
            transport.close()
            return Shut.CLOSED

    def close_transport(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def connection_done(self) -> None:
        """The session wrote its last bytes (or the connection was lost)."""
        done = self._future()
        if not done.done():
            done.set_result(None)

    def get_extra_info(self, name: str, default: object = None) -> object:
        transport = self.transport
        if transport is None:
            return default
        return transport.get_extra_info(name, default)

    # ----------------------------------------------- web.Server's shutdown
    def close(self) -> None:
        """Graceful shutdown begins (``web.Server.pre_shutdown``): see ``Closing.close``."""
        self.session.close()

    async def shutdown(self, timeout: float | None = 15.0) -> None:
        """Let in-flight streams finish within the drain time, then GOAWAY and close."""
        session = self.session
        session.close()
        drain = session.settings.drain_timeout
        if timeout is not None:
            drain = min(drain, timeout)
        done = self._future()
        if not done.done():
            await asyncio.wait([done], timeout=drain)
        if done.done():
            return
        streams = session.streams
        tasks = [s.task for s in streams.values() if s.task is not None and not s.task.done()]
        for task in tasks:
            task.cancel()
        for stream in list(streams.values()):
            if not stream.local_ended:
                stream.reset(ResetReason.CANCEL)
        if tasks:
            await asyncio.wait(tasks, timeout=1.0)
        session.goaway_and_close(ErrorCodes.NO_ERROR)

    def _future(self) -> asyncio.Future[None]:
        if self._done is None:
            self._done = self.loop.create_future()
        return self._done


def _tune_socket(sock: socket.socket, keepalive: bool) -> None:
    """TCP_NODELAY, and SO_KEEPALIVE when aiohttp's ``tcp_keepalive`` is on (as its
    ``RequestHandler`` does for HTTP/1.1)."""
    try:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, True)
            if keepalive and hasattr(socket, "SO_KEEPALIVE"):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    except (OSError, AttributeError):
        pass
