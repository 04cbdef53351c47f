"""Conformance suite: RFC 9113 / RFC 7541 raw-frame tests over cleartext and TLS.

One module per section group. Each module holds two kinds of tests:

* ``test_h2spec_*``: a port of one h2spec case (generic/, http2/ and hpack/, the 146
  cases h2spec runs by default, plus its one strict case), sending what h2spec sends
  and passing exactly when h2spec would (see ``support.Conn.h2spec_*``);
* the other tests: the exact reaction RFC 9113 requires (``support.Conn.expect_*``),
  for the cases issue 4 lists, h2spec's or not.
"""
