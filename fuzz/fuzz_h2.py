"""Coverage-guided fuzzing of the HTTP/2 connection with atheris (libFuzzer).

Each input is one client connection: after the 24-byte preface (always sent by the
harness), the input is decoded into reads of bytes and the peer's pauses (see
``decode``), and run through ``tests/fuzz_support.InProcessTarget``: the real
dispatcher, ``H2Protocol``, streams and handlers on a recording transport. A broken
invariant (an exception escaping the protocol, a leaked task or timer, malformed
output, a connection that neither answers nor closes with GOAWAY, an ERROR log)
raises ``FuzzFailure``, which libFuzzer reports as a crash and saves the input.

    .venv/bin/pip install atheris
    .venv/bin/python fuzz/fuzz_h2.py --make-corpus fuzz/corpus
    .venv/bin/python fuzz/fuzz_h2.py fuzz/corpus -dict=fuzz/h2.dict -max_total_time=300

``--replay FILE`` runs one saved input outside libFuzzer with a readable report.
See ``fuzz/README.md``.
"""

from __future__ import annotations

import logging
import random
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# Input format: byte 0 holds flags (bit 0: the "tight" settings, bit 1: the peer
# resets the connection instead of closing it); then records. A record byte with
# both top bits set is a peer action (low two bits: 0/3 let the loop run, 1 pause
# reading, 2 resume reading); otherwise it and the next byte give a length
# ((b0 & 0x3f) << 8 | b1) + 1 of bytes that follow, delivered in one read.
_ACTION = 0xC0
_ACTIONS = {0: "tick", 1: "pause", 2: "resume", 3: "tick"}


def decode(data: bytes) -> tuple[str, bool, list[bytes | str]]:
    """``(target name, abrupt close, steps)`` for one fuzzer input."""
    if not data:
        return "default", False, []
    flags = data[0]
    steps: list[bytes | str] = []
    pos = 1
    while pos < len(data):
        head = data[pos]
        if head & _ACTION == _ACTION:
            steps.append(_ACTIONS[head & 0x3])
            pos += 1
            continue
        low = data[pos + 1] if pos + 1 < len(data) else 0
        size = ((head & 0x3F) << 8 | low) + 1
        chunk = data[pos + 2 : pos + 2 + size]
        if chunk:
            steps.append(chunk)
        pos += 2 + size
    return ("tight" if flags & 1 else "default"), bool(flags & 2), steps


def encode(steps: list[bytes | str], tight: bool = False, abrupt: bool = False) -> bytes:
    """The inverse of ``decode`` (for seed corpora)."""
    out = bytearray([int(tight) | int(abrupt) << 1])
    codes = {"tick": 0, "pause": 1, "resume": 2}
    for step in steps:
        if isinstance(step, str):
            out.append(_ACTION | codes[step])
            continue
        for start in range(0, len(step), 0x3FFF):
            chunk = step[start : start + 0x3FFF]
            size = len(chunk) - 1
            out += bytes([size >> 8, size & 0xFF]) + chunk
    return bytes(out)


def make_corpus(directory: Path, count: int = 300) -> None:
    """Seeds from a real client's conversations (random operations of h2's client
    side), cut into reads with the peer pausing in between: most of them get past
    the framing layer, which random bytes rarely do."""
    from tests.fuzz_support import PREFACE, client_conversation, random_ops

    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(4)
    for i in range(count):
        chunks = client_conversation(random_ops(rng, rng.randrange(1, 10)))
        body = b"".join(chunks)[len(PREFACE) :]
        steps: list[bytes | str] = []
        start = 0
        for cut in sorted(rng.sample(range(len(body) + 1), min(3, len(body) + 1))):
            if cut > start:
                steps.append(body[start:cut])
                start = cut
            steps.append(rng.choice(["tick", "tick", "pause", "resume"]))
        if start < len(body):
            steps.append(body[start:])
        (directory / f"seed-{i:04d}").write_bytes(encode(steps, tight=i % 3 == 0, abrupt=i % 2 == 0))
    print(f"wrote {count} seeds to {directory}")


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--make-corpus":
        make_corpus(Path(sys.argv[2]))
        return

    import atheris

    with atheris.instrument_imports(include=["aiohttp_h2", "h2", "hpack", "hyperframe"]):
        import h2.connection  # noqa: F401
        import hpack  # noqa: F401
        import hyperframe.frame  # noqa: F401

        import aiohttp_h2  # noqa: F401

    from tests.fuzz_support import TARGET_SETTINGS, InProcessTarget

    # The harness checks the log itself; keep the terminal for libFuzzer's output.
    logging.getLogger().addHandler(logging.NullHandler())
    logging.lastResort = None
    targets = {name: InProcessTarget(settings) for name, settings in TARGET_SETTINGS.items()}

    def test_one_input(data: bytes) -> None:
        name, abrupt, steps = decode(data)
        targets[name].run(steps, abrupt)

    if len(sys.argv) == 3 and sys.argv[1] == "--replay":
        name, abrupt, steps = decode(Path(sys.argv[2]).read_bytes())
        print(f"target={name} abrupt={abrupt} steps={steps!r}")
        print(targets[name].run(steps, abrupt))
        return

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
