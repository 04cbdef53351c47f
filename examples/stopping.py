"""Wait for Ctrl+C or SIGTERM, for the examples that run their own ``AppRunner``.

Python turns SIGINT into ``KeyboardInterrupt`` only when SIGINT was at its default at
startup. A background job of a non-interactive shell, ``nohup`` and some CI runners
start programs with SIGINT ignored, and SIGTERM kills with status 143 unless handled;
handlers installed here work either way, so the examples always shut down gracefully.
"""

from __future__ import annotations

import asyncio
import signal


async def stop_signal() -> signal.Signals:
    """Return the first SIGINT or SIGTERM received; a second one interrupts the shutdown.

    The handlers are removed on return (SIGINT goes back to ``KeyboardInterrupt``), so a
    second Ctrl+C still breaks off a shutdown that takes too long.
    """
    loop = asyncio.get_running_loop()
    received: asyncio.Future[signal.Signals] = loop.create_future()

    def on_signal(signum: signal.Signals) -> None:
        if not received.done():
            received.set_result(signum)

    stops = (signal.SIGINT, signal.SIGTERM)
    for signum in stops:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        return await received
    finally:
        for signum in stops:
            loop.remove_signal_handler(signum)
