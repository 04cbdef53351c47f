"""Headless Chromium driven over the DevTools protocol (CDP), with no dependency beyond aiohttp.

``async with chromium(trusted_spki=[...]) as page:`` starts Debian's ``chromium`` in a new
process group with a throw-away profile, connects to its one page target through aiohttp's
websocket client, and yields a :class:`Page` that navigates, evaluates JavaScript and records
everything that counts as an error (console errors, uncaught exceptions, failed loads, HTTP
errors). On the way out the whole process group is killed and the profile removed, whatever
happened in the test.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

#: Seconds for Chromium to start, and for each navigation or command: generous for a loaded 2-core machine.
TIMEOUT = 60.0

FLAGS = (
    "--headless",
    "--no-sandbox",  # we run as root in CI containers, where the sandbox cannot start
    "--disable-gpu",
    "--disable-quic",  # HTTP/3 would bypass the protocol under test
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",  # Chromium picks a free port and writes it to DevToolsActivePort
)


def spki_hash(cert_pem: Path) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo)) of the first certificate in ``cert_pem``.

    The form ``--ignore-certificate-errors-spki-list`` wants: Chromium does not read a CA
    file from the command line, so instead of ``--ignore-certificate-errors`` (which accepts
    any certificate) the test pins exactly the server's key. Chromium honours the flag only
    together with ``--user-data-dir``, which we always give.
    """
    cert = x509.load_pem_x509_certificate(cert_pem.read_bytes())
    der = cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


class CDPError(Exception):
    pass


class Page:
    """One page target: commands with ``send``, events collected as they arrive."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self._event_arrived = asyncio.Event()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for message in self._ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                data = json.loads(message.data)
                if "id" in data:
                    future = self._pending.pop(data["id"], None)
                    if future is not None and not future.done():
                        future.set_result(data)
                else:
                    self.events.append(data)
                    self._event_arrived.set()
        finally:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(CDPError("DevTools connection closed"))
            self._event_arrived.set()

    async def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[self._next_id] = future
        await self._ws.send_str(json.dumps({"id": self._next_id, "method": method, "params": params}))
        reply = await asyncio.wait_for(future, TIMEOUT)
        if "error" in reply:
            raise CDPError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def wait_for_event(self, method: str, after: int) -> dict[str, Any]:
        """The first ``method`` event at index ``after`` or later in ``events``."""
        async with asyncio.timeout(TIMEOUT):
            seen = after
            while True:
                for event in self.events[seen:]:
                    if event["method"] == method:
                        return event
                seen = len(self.events)
                if self._reader.done():
                    raise CDPError(f"DevTools connection closed while waiting for {method}")
                self._event_arrived.clear()
                await self._event_arrived.wait()

    async def navigate(self, url: str) -> None:
        """Load ``url`` and wait for its ``load`` event (every stylesheet, script and image is in)."""
        mark = len(self.events)
        result = await self.send("Page.navigate", url=url)
        if result.get("errorText"):
            raise CDPError(f"navigation to {url} failed: {result['errorText']}")
        await self.wait_for_event("Page.loadEventFired", mark)

    async def evaluate(self, expression: str) -> Any:
        result = await self.send("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise CDPError(f"{expression!r} raised {result['exceptionDetails']}")
        return result["result"].get("value")

    def errors(self) -> list[str]:
        """Everything a developer would see in red: console errors, exceptions, failed or 4xx/5xx loads."""
        found = []
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.exceptionThrown":
                found.append(f"exception: {params['exceptionDetails']}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append(f"console.{params['type']}: {params.get('args')}")
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
            elif method == "Network.loadingFailed":
                found.append(f"load failed: {params.get('errorText')} ({params.get('type')})")
            elif method == "Network.responseReceived" and params["response"]["status"] >= 400:
                found.append(f"HTTP {params['response']['status']}: {params['response']['url']}")
        return found

    def responses(self) -> dict[str, str]:
        """URL → protocol Chromium's network stack reports for every response received."""
        return {
            event["params"]["response"]["url"]: event["params"]["response"].get("protocol", "")
            for event in self.events
            if event["method"] == "Network.responseReceived"
        }

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader
        await self._ws.close()


async def _devtools_port(profile: Path, proc: asyncio.subprocess.Process) -> int:
    """Chromium writes ``PORT\\n/devtools/browser/ID`` to ``DevToolsActivePort`` once it listens."""
    active = profile / "DevToolsActivePort"
    async with asyncio.timeout(TIMEOUT):
        while True:
            if proc.returncode is not None:
                raise CDPError(f"chromium exited with {proc.returncode} before DevTools was ready")
            with contextlib.suppress(FileNotFoundError, ValueError, IndexError):
                return int(active.read_text().splitlines()[0])
            await asyncio.sleep(0.05)


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    """SIGKILL Chromium's whole process group (the launcher script, browser, zygote, renderers)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


@contextlib.asynccontextmanager
async def chromium(*, trusted_spki: Sequence[str] = ()) -> AsyncIterator[Page]:
    binary = shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(binary, os.X_OK):
        pytest.fail("chromium not found: install Debian's chromium package (scripts/test does)")
    profile = Path(tempfile.mkdtemp(prefix="aiohttp-h2-chromium-"))
    argv = [binary, *FLAGS, f"--user-data-dir={profile}"]
    if trusted_spki:
        argv.append(f"--ignore-certificate-errors-spki-list={','.join(trusted_spki)}")
    argv.append("about:blank")
    proc = None
    try:
        with (profile / "chromium.log").open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
            )
        port = await _devtools_port(profile, proc)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as session:
            async with asyncio.timeout(TIMEOUT):
                while True:
                    async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                        targets = await response.json()
                    pages = [target for target in targets if target.get("type") == "page"]
                    if pages:
                        break
                    await asyncio.sleep(0.05)
            ws = await session.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=64 * 1024 * 1024)
            page = Page(ws)
            try:
                for domain in ("Page", "Runtime", "Log", "Network"):
                    await page.send(f"{domain}.enable")
                # Every navigation fetches every asset from the server, so each has a resource entry
                # with the protocol it really used (a memory-cache hit would report none).
                await page.send("Network.setCacheDisabled", cacheDisabled=True)
                yield page
            finally:
                await page.close()
    finally:
        if proc is not None:
            _kill_group(proc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 10)
        shutil.rmtree(profile, ignore_errors=True)
