"""A network namespace joined to the host by a veth pair, with ``tc netem`` delay on both ends.

The server runs inside the namespace (``ip netns exec``); the client stays on the host and
reaches it at ``NetemLink.server_ip``. Each direction gets RTT/2 of delay, so a round trip
costs RTT. Everything is removed by ``teardown()``, which is also registered with ``atexit``
and is safe to call twice. ``probe()`` says why it cannot work here (not root, no ``ip``/``tc``,
a kernel without netem), so that callers can print it and carry on without.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess


class NetemError(RuntimeError):
    pass


def _run(*argv: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        raise NetemError(f"`{' '.join(argv)}` failed: {(proc.stderr or proc.stdout).strip()}")


class NetemLink:
    def __init__(self) -> None:
        tag = os.getpid() % 100000
        self.namespace = f"h2bench{tag}"
        self.host_if = f"h2b{tag}h"
        self.ns_if = f"h2b{tag}n"
        third = tag % 250
        self.host_ip = f"10.213.{third}.1"
        self.server_ip = f"10.213.{third}.2"
        self.active = False

    @staticmethod
    def missing_requirements() -> str | None:
        if os.geteuid() != 0:
            return "creating a network namespace needs root"
        for tool in ("ip", "tc"):
            if shutil.which(tool) is None:
                return f"`{tool}` (iproute2) is not installed"
        return None

    def setup(self) -> None:
        reason = self.missing_requirements()
        if reason:
            raise NetemError(reason)
        atexit.register(self.teardown)
        self.active = True
        try:
            _run("ip", "netns", "add", self.namespace)
            _run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            _run("ip", "link", "set", self.ns_if, "netns", self.namespace)
            _run("ip", "addr", "add", f"{self.host_ip}/24", "dev", self.host_if)
            _run("ip", "link", "set", self.host_if, "up")
            ns = ("ip", "netns", "exec", self.namespace)
            _run(*ns, "ip", "addr", "add", f"{self.server_ip}/24", "dev", self.ns_if)
            _run(*ns, "ip", "link", "set", self.ns_if, "up")
            _run(*ns, "ip", "link", "set", "lo", "up")
            self.set_rtt(0)  # fails here, early, on kernels without sch_netem
        except Exception:
            self.teardown()
            raise

    def set_rtt(self, rtt_ms: float) -> None:
        """RTT/2 of delay on each end; a large queue limit so that netem never drops."""
        delay = f"{round(rtt_ms * 500)}us"
        for prefix in ((), ("ip", "netns", "exec", self.namespace)):
            dev = self.ns_if if prefix else self.host_if
            _run(*prefix, "tc", "qdisc", "replace", "dev", dev, "root", "netem", "delay", delay, "limit", "100000")

    def wrap(self) -> list[str]:
        """The argv prefix that runs a command inside the namespace."""
        return ["ip", "netns", "exec", self.namespace]

    def teardown(self) -> None:
        if not self.active:
            return
        self.active = False
        # Deleting the namespace destroys its veth end, which destroys the host end too.
        subprocess.run(["ip", "netns", "delete", self.namespace], capture_output=True)
        subprocess.run(["ip", "link", "delete", self.host_if], capture_output=True)

    def probe(self) -> str | None:
        """Set up and tear down once: ``None`` when netem works here, else the reason it does not."""
        try:
            self.setup()
        except NetemError as exc:
            return str(exc)
        finally:
            self.teardown()
        return None
