// Node's http2 client keeping requests in flight on one session while the server shuts down.
//
//   node node_shutdown_client.js URL PATH CONCURRENCY
//
// Prints "warm" once 20 responses arrived (the test then starts the server's shutdown),
// stops issuing requests when the server's GOAWAY arrives (Node closes the session then:
// no new streams), and prints one JSON line when the last request has ended:
//   {"ok": N, "errors": ["CODE: message", ...], "goaway": [[code, lastStreamID], ...]}
// A stream refused by the server shows up in "errors" (ERR_HTTP2_STREAM_ERROR,
// NGHTTP2_REFUSED_STREAM): Node hands it to the application instead of retrying.
"use strict";

const http2 = require("node:http2");

const [url, path, concurrencyArg] = process.argv.slice(2);
const concurrency = Number(concurrencyArg || 4);
const result = { ok: 0, errors: [], goaway: [] };
let inFlight = 0;
let stopping = false;
let warm = false;

const session = http2.connect(url);
session.on("error", (err) => result.errors.push(`session ${err.code}: ${err.message}`));
session.on("goaway", (code, lastStreamID) => {
  result.goaway.push([code, lastStreamID]);
  stopping = true;
});
session.on("close", () => {
  stopping = true;
  finish();
});

function finish() {
  if (inFlight === 0 && stopping) {
    process.stdout.write(JSON.stringify(result) + "\n");
    process.exit(0);
  }
}

function issue() {
  if (stopping) return finish();
  let req;
  try {
    req = session.request({ ":path": path });
  } catch (err) {
    // ERR_HTTP2_GOAWAY_SESSION / ERR_HTTP2_INVALID_SESSION: the session is closing.
    stopping = true;
    return finish();
  }
  inFlight += 1;
  let body = "";
  let status = 0;
  let failed = false;
  req.setEncoding("utf8");
  req.on("response", (headers) => (status = headers[":status"]));
  req.on("data", (chunk) => (body += chunk));
  req.on("error", (err) => {
    failed = true;
    result.errors.push(`${err.code}: ${err.message}`);
  });
  req.on("close", () => {
    inFlight -= 1;
    if (status === 200 && body === "ok") {
      result.ok += 1;
    } else if (!failed) {
      result.errors.push(`status ${status}, rstCode ${req.rstCode}, body ${JSON.stringify(body)}`);
    }
    if (!warm && result.ok >= 20) {
      warm = true;
      process.stdout.write("warm\n");
    }
    issue();
  });
}

setTimeout(() => {
  result.errors.push("timed out");
  stopping = true;
  inFlight = 0;
  finish();
}, 20000).unref();

for (let i = 0; i < concurrency; i += 1) issue();
