// Browser-side test cases. harness.py serves this page from its own origin (not the proxy's), so every call
// below is a real cross-origin gRPC-Web / WebSocket call with CORS. Each case returns plain JSON; the Python tests
// (test_browser_*.py) make the assertions. Binary payloads travel back as base64.
import { call, WebSocketCall, base64Encode, encodeFrame, utf8, fromUtf8 } from "/lib/grpc-web-lite.js";
import { PROXY, log, runCases } from "/runner.js";

// Bytes i -> (i * 31 + seed) % 256: distinct per test so mix-ups would show.
function pattern(n, seed) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + seed) % 256;
  return b;
}

function summarize(r, t0) {
  return {
    httpStatus: r.httpStatus ?? null,
    headers: r.headers,
    trailers: r.trailers,
    trailersOnly: r.trailersOnly,
    status: r.status,
    statusMessage: r.statusMessage,
    messages: r.messages.map(base64Encode),
    arrivals: r.arrivals.map((t) => t - t0),
    closeCode: r.closeCode ?? null,
    closeReason: r.closeReason ?? null,
  };
}

async function unary(text) {
  const req = pattern(1000, text ? 7 : 3);
  const t0 = performance.now();
  const r = await call(PROXY, "/test.Echo/Unary", [req], {
    text, metadata: { "x-custom": "from-browser", "x-header-custom": "echoed" },
  });
  return { ...summarize(r, t0), request: base64Encode(req) };
}

async function serverStream(text) {
  const t0 = performance.now();
  const r = await call(PROXY, "/test.Echo/ServerStream", [utf8("go")], {
    text, metadata: { "x-stream-count": "5", "x-stream-interval-ms": "300", "x-stream-size": "8" },
  });
  return summarize(r, t0);
}

const CASES = {
  unary_binary: () => unary(false),
  unary_text: () => unary(true),
  stream_binary: () => serverStream(false),
  stream_text: () => serverStream(true),

  // Trailers-only failure: grpc-status / grpc-message must be readable from the (CORS-exposed) headers.
  error_trailers_only: async () => {
    const t0 = performance.now();
    const r = await call(PROXY, "/test.Echo/Unary", [utf8("x")], {
      metadata: { "x-fail-code": "5", "x-fail-message": "gone%20%E2%9C%93" },
    });
    return summarize(r, t0);
  },

  // Failure after headers: the status comes from the 0x80 trailer frame in the body, with custom trailers.
  error_after_headers: async () => {
    const t0 = performance.now();
    const r = await call(PROXY, "/test.Echo/Unary", [utf8("x")], {
      text: true,
      metadata: { "x-fail-code": "9", "x-fail-after-headers": "1", "x-trailer-foo": "bar" },
    });
    return summarize(r, t0);
  },

  deadline: async () => {
    const t0 = performance.now();
    const r = await call(PROXY, "/test.Echo/Unary", [utf8("slow")], {
      timeoutMs: 300, metadata: { "x-delay-ms": "3000" },
    });
    return { ...summarize(r, t0), elapsed: performance.now() - t0 };
  },

  // A page that stops reading mid-stream (AbortController): the proxy must cancel the upstream call.
  abort_stream: async () => {
    const ctl = new AbortController();
    const t0 = performance.now();
    let seen = 0;
    let abortedAt = null;
    try {
      await call(PROXY, "/test.Echo/ServerStream", [utf8("forever")], {
        signal: ctl.signal,
        metadata: { "x-stream-forever": "1", "x-stream-interval-ms": "50", "x-stream-size": "16" },
        onMessage: () => { if (++seen === 3) { abortedAt = performance.now() - t0; ctl.abort(); } },
      });
      return { aborted: false, seen };
    } catch (e) {
      return { aborted: true, seen, abortError: String(e.name), abortedAt };
    }
  },

  ws_bidi: async () => {
    const t0 = performance.now();
    const c = new WebSocketCall(PROXY, "/test.Echo/Bidi", { "x-custom": "ws" });
    const echoes = [];
    let waiter = null;
    c.callbacks.onMessage = (m) => { echoes.push(m); if (waiter) waiter(); };
    await c.opened;
    const sent = [];
    for (let i = 0; i < 5; i++) {
      const m = utf8(`ping ${i} ` + "x".repeat(i * 100));
      sent.push(base64Encode(m));
      const got = new Promise((res) => { waiter = res; });
      c.send(m);
      await got;  // wait for the echo before the next ping
    }
    c.halfClose();
    const r = await c.done;
    return { ...summarize(r, t0), sent, protocol: c.ws.protocol };
  },

  ws_client_stream: async () => {
    const t0 = performance.now();
    const c = new WebSocketCall(PROXY, "/test.Echo/ClientStream");
    let total = 0;
    for (let i = 0; i < 10; i++) {   // queued before the socket opens: must go out after the metadata block
      const m = pattern(i * 10 + 1, i);
      total += m.length;
      c.send(m);
    }
    c.halfClose();
    const r = await c.done;
    return { ...summarize(r, t0), expected: `count=10 bytes=${total}`,
      text: r.messages.length ? fromUtf8(r.messages[0]) : null };
  },
};

// 20 server streams at once (issue 11). Over HTTP/2 they share one connection and all start at once; over
// HTTP/1.1 Chromium opens at most 6 connections per origin, so the others wait for a stream to end (1.5 s).
// A first call warms the connection and the CORS preflight cache, so t0 measures only the streams.
CASES.fanout20 = async () => {
  const metadata = { "x-stream-count": "2", "x-stream-interval-ms": "1500", "x-stream-size": "8" };
  const warm = await call(PROXY, "/test.Echo/ServerStream", [utf8("warm")],
    { metadata: { ...metadata, "x-stream-count": "1" } });
  const t0 = performance.now();
  const firsts = new Array(20).fill(null);
  const runs = [];
  for (let i = 0; i < 20; i++) {
    runs.push(call(PROXY, "/test.Echo/ServerStream", [utf8(`stream ${i}`)], {
      metadata,
      onMessage: (m, at) => { if (firsts[i] === null) firsts[i] = at - t0; },
    }).then((r) => ({ status: r.status, messages: r.messages.length }), (e) => ({ error: `${e.name}: ${e.message}` })));
  }
  const results = await Promise.all(runs);
  return { warmStatus: warm.status, firsts, results, elapsed: performance.now() - t0 };
};

// A credentialed fetch first: Chromium keeps credentialed and uncredentialed requests on separate connections, and
// runs a wss:// WebSocket over HTTP/2 (RFC 8441) only on an existing credentialed HTTP/2 connection.
CASES.credentialed_then_ws_bidi = async () => {
  const warm = await fetch(PROXY.replace(/\/$/, "") + "/test.Echo/Unary", {
    method: "POST", credentials: "include", cache: "no-store",
    headers: { "content-type": "application/grpc-web+proto", "x-grpc-web": "1" },
    body: encodeFrame(utf8("warm")),
  });
  await warm.arrayBuffer();
  return { warmStatus: warm.status, ...(await CASES.ws_bidi()) };
};

runCases(CASES);
