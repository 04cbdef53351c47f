"""The suite really runs on the loop it was asked for (``AIOHTTP_H2_TEST_LOOP``)."""

from __future__ import annotations

import asyncio

from .conftest import TEST_LOOP


async def test_running_on_the_requested_loop(start_server) -> None:
    loop = asyncio.get_running_loop()
    module = type(loop).__module__.partition(".")[0]
    assert module == TEST_LOOP, f"{type(loop)!r} is not {TEST_LOOP}'s loop"
