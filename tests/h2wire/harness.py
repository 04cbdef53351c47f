"""A socket-free harness: the server's real protocol objects, bytes in, frames out, a fake clock.

``MemoryServer`` builds the server as production does (``aiohttp_h2.AppRunner`` -> its
``aiohttp_h2.Server``), and each ``open_connection()`` hands a new dispatcher protocol a
``MemoryTransport`` instead of a socket: ``connection_made``, ``data_received``,
``eof_received`` and ``connection_lost`` are called as asyncio's socket transports call
them, and what the server writes comes back to the client side as a stream. The
client side is the usual pair (``asyncio.StreamReader`` + ``PeerWriter``), so
``WireConn``/``conformance.support.Conn`` and ``RawClient`` run unchanged on it (the
``memory_server`` fixture of ``tests/conftest.py`` is ``start_server``'s twin).

Only public seams are used: ``Server.__call__``, the asyncio protocol callbacks and the
transport's methods; nothing reaches into the connection's attributes, so the harness
survives the connection's internal restructuring.

``FakeClockLoop`` (tests marked ``fake_clock`` run on it, see ``tests/conftest.py``) is a
``SelectorEventLoop`` whose clock is virtual and jumps (as trio's
``autojump_clock``): whenever nothing is ready to run, the clock moves to the next timer
instead of sleeping. Idle, preface, header and send timeouts then fire in
microseconds, deterministically, with the production code's own ``call_later`` and
``loop.time()``. Such a test runs on asyncio's loop even where the suite runs on uvloop:
it has no socket for uvloop to serve.
"""

from __future__ import annotations

import asyncio
import selectors
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

import aiohttp_h2

#: The client's address as the server sees it, and the server's own.
PEERNAME = ("127.0.0.1", 40000)
SOCKNAME = ("127.0.0.1", 8080)


# ------------------------------------------------------------------------ the clock
class _AutojumpSelector(selectors.DefaultSelector):
    """A selector that, asked to wait, moves the loop's clock instead of sleeping.

    With no socket registered (only the loop's own wake-up pipe), waiting ``timeout``
    seconds means "until the next timer": the clock jumps there at once. A callback
    made ready from another thread still wakes it through the pipe.
    """

    def __init__(self, clock: FakeClockLoop) -> None:
        super().__init__()
        self._clock = clock

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or timeout is None or timeout <= 0:
            if not ready and timeout is None:
                # Nothing scheduled at all: a test waits for what never comes. Sleep in
                # real time (pytest-timeout ends it) rather than spin.
                return super().select(0.05)
            return ready
        self._clock.advance(timeout)
        return []


class FakeClockLoop(asyncio.SelectorEventLoop):
    """An event loop whose ``time()`` is virtual and only moves when the loop is idle
    (or through ``advance``)."""

    def __init__(self) -> None:
        self._now = 0.0
        super().__init__(selector=_AutojumpSelector(self))

    def time(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += max(seconds, 0.0)


# -------------------------------------------------------------------- the transport
class MemoryTransport(asyncio.Transport):
    """A transport stand-in that behaves as asyncio's socket transports do where the
    server relies on it: ``connection_lost`` on the next loop turn after ``close()``,
    ``RuntimeError`` on ``write()`` after ``write_eof()``, ``get_extra_info`` with a
    peer and a socket name. ``on_write`` receives every byte written; ``on_eof`` is
    called once when the server shuts its side (``write_eof`` or ``close``)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_write: Callable[[bytes], None],
        on_eof: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__()
        self._loop = loop
        self._protocol: asyncio.BaseProtocol | None = None
        self._on_write = on_write
        self._on_eof = on_eof
        self.closed = False
        self.eof_sent = False
        self.eof_stack = ""
        self.lost = False
        self.reading = True
        self._extra: dict[str, Any] = {
            "peername": PEERNAME,
            "sockname": SOCKNAME,
            "socket": None,
            "sslcontext": None,
            "ssl_object": None,
        }

    # protocol switching (the dispatcher hands the transport on)
    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self._protocol is not None
        return self._protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._extra.get(name, default)

    # writing
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.eof_sent:
            raise RuntimeError(f"Cannot call write() after write_eof(), called from:\n{self.eof_stack}")
        if self.lost:
            return
        self._on_write(bytes(data))

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        for data in list_of_data:
            self.write(data)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        """Half-close: our FIN; the peer may still send until it closes too."""
        if not self.closed and not self.eof_sent:
            self.eof_sent = True
            self.eof_stack = "".join(traceback.format_stack(limit=12))
            self._on_eof()

    @property
    def server_done(self) -> bool:
        """The server closed, or half-closed, the connection."""
        return self.closed or self.eof_sent

    def get_write_buffer_size(self) -> int:
        return 0

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (16384, 65536)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    # reading
    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def is_reading(self) -> bool:
        return self.reading

    # closing
    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            if not self.eof_sent:
                self._on_eof()
            self._loop.call_soon(self._deliver_lost, None)

    def abort(self) -> None:
        self.close()

    def _deliver_lost(self, exc: BaseException | None) -> None:
        if not self.lost:
            self.lost = True
            self.get_protocol().connection_lost(exc)

    def peer_closes(self, abrupt: bool) -> None:
        """The client goes away: a reset (``connection_lost(exc)`` at once) or an EOF."""
        if self.lost:
            return
        if abrupt:
            self.closed = True
            self._deliver_lost(ConnectionResetError("connection reset by peer"))
            return
        if self.closed:
            return
        keep_open = self.get_protocol().eof_received()
        if not keep_open:
            self.close()


# -------------------------------------------------------------------- the client side
class PeerWriter:
    """The client's half of a harness connection, shaped like ``asyncio.StreamWriter``:
    ``write`` delivers to the server's current protocol on the next loop turn, as
    bytes from a socket arrive; ``write_eof``/``close`` deliver the client's FIN."""

    def __init__(self, transport: MemoryTransport) -> None:
        self.transport = transport
        self._loop = transport._loop
        self._closing = False
        self._eof = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._closing or self._eof:
            return
        self._loop.call_soon(self._deliver, bytes(data))

    def _deliver(self, data: bytes) -> None:
        transport = self.transport
        if transport.lost or transport.closed:
            return  # a real socket delivers nothing more once the server closed it
        transport.get_protocol().data_received(data)  # type: ignore[attr-defined]

    async def drain(self) -> None:
        await asyncio.sleep(0)

    def is_closing(self) -> bool:
        return self._closing or self.transport.lost

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        if not self._eof:
            self._eof = True
            self._loop.call_soon(self.transport.peer_closes, False)

    def close(self) -> None:
        if not self._closing:
            self._closing = True
            if not self._eof:
                self._eof = True
                self._loop.call_soon(self.transport.peer_closes, False)

    def abort(self) -> None:
        """A reset: the server sees ``connection_lost`` with an error at once."""
        self._closing = self._eof = True
        self.transport.peer_closes(True)

    async def wait_closed(self) -> None:
        while not self.transport.lost:
            await asyncio.sleep(0.001)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": SOCKNAME, "sockname": PEERNAME}.get(name, default)


# ------------------------------------------------------------------------ the server
class MemoryServer:
    """A server as ``start_server`` gives one (``AppRunner`` + its ``aiohttp_h2.Server``),
    reached through ``MemoryTransport`` connections instead of a listening socket."""

    def __init__(self, runner: aiohttp_h2.AppRunner) -> None:
        self.runner = runner
        self.transports: list[MemoryTransport] = []

    @classmethod
    async def start(
        cls, app: web.Application, *, h2_settings: aiohttp_h2.H2Settings | None = None, **kwargs: Any
    ) -> MemoryServer:
        kwargs.setdefault("shutdown_timeout", 5.0)
        runner = aiohttp_h2.AppRunner(app, h2_settings=h2_settings, **kwargs)
        await runner.setup()
        return cls(runner)

    @property
    def server(self) -> aiohttp_h2.Server:
        server = self.runner.server
        assert isinstance(server, aiohttp_h2.Server)
        return server

    @property
    def authority(self) -> str:
        return f"{SOCKNAME[0]}:{SOCKNAME[1]}"

    async def open_connection(self) -> tuple[asyncio.StreamReader, PeerWriter]:
        """A new connection, as ``asyncio.open_connection`` gives it to a client."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=2**24, loop=loop)
        transport = MemoryTransport(loop, reader.feed_data, reader.feed_eof)
        self.transports.append(transport)  # reset at cleanup, if still open
        self.accept(transport)
        return reader, PeerWriter(transport)

    def accept(self, transport: MemoryTransport) -> None:
        """What the listening socket does for a new connection: a dispatcher protocol
        from ``Server.__call__``, given the transport (which the dispatcher hands on)."""
        dispatcher = self.server()
        transport.set_protocol(dispatcher)
        dispatcher.connection_made(transport)

    async def cleanup(self) -> None:
        for transport in self.transports:
            transport.peer_closes(True)  # a no-op for connections already gone
        await self.runner.cleanup()
