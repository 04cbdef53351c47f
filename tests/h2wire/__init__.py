"""The one raw HTTP/2 client of the test suite, and a socket-free harness for the server.

* ``frames``: frame builders (anything, valid or not), ``PREFACE``, codes, ``FrameDecoder``
  and ``RawFrame``: the only place that encodes or decodes frame octets.
* ``conn``: ``WireConn``, a connection of frames in, ``Event`` out, independent of h2;
  ``tests.conformance.support.Conn`` adds h2spec's and the strict RFC 9113 verdicts.
* ``h2client``: ``RawClient``, h2's client state machine on the same streams, for tests
  that want a correct peer (flow control, HPACK state) and its frame log as ``RawFrame``.
* ``harness``: the server's real protocol objects on an in-memory transport and an event
  loop with a fake clock: bytes in, frames out, timeouts without waiting. ``MemoryServer``
  (fixture ``memory_server``, the twin of ``start_server``) and ``RunningServer`` both
  offer ``open_connection()``, so ``RawClient.open``, ``check_serves`` and
  ``conformance.support.open_conn_on`` take either; mark a test ``fake_clock`` to run it
  on ``FakeClockLoop``. The fuzzers' ``RecordingTransport`` is a ``MemoryTransport`` too.

Use a real socket (``start_server``) where the socket is the point: TLS, write
backpressure, resets and FINs, real clients; keep a few per area so the harness never
hides a socket-only difference.
"""
