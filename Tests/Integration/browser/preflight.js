// Calls without a CORS preflight and response metadata the page reads without configured expose_headers
// (test_browser_preflight_free.py). Served by harness.py from its own origin, so every call is cross-origin.
//
// The simple request is built the way the official grpc-web client builds it with suppressCorsPreflight: true
// (grpcwebclientbase.js startStream_/processHeaders_/setCorsOverride_, Closure's HttpCors
// .setHttpHeadersWithOverwriteParam and uri.utils.appendParam): the headers object (metadata, then Content-Type,
// Accept, X-User-Agent, X-Grpc-Web) as "name:value\r\n" lines, encodeURIComponent-ed into the parameter
// "%24httpHeaders"; no request header but the form content type goog.net.XhrIo adds for a POST body
// (application/x-www-form-urlencoded;charset=utf-8); the body is the grpc-web-text (base64) request. The official
// client itself cannot be vendored here (no npm, and it needs the Closure compiler), so this mirrors it line by
// line with fetch.
import { Base64StreamDecoder, FrameParser, base64Encode, encodeFrame, fromUtf8, parseHeaderBlock, utf8 }
  from "/lib/grpc-web-lite.js";
import { PROXY, runCases } from "/runner.js";

function overwriteParam(headers) {
  let block = "";
  for (const [name, value] of Object.entries(headers)) block += `${name}:${value}\r\n`;
  return `${encodeURIComponent("$httpHeaders")}=${encodeURIComponent(block)}`;
}

// A grpc-web-text call as a CORS simple request; returns what the page can see of the answer.
async function simpleCall(path, metadata, message) {
  const headers = {
    ...metadata,
    "Content-Type": "application/grpc-web-text",
    "Accept": "application/grpc-web-text",
    "X-User-Agent": "grpc-web-javascript/0.1",
    "X-Grpc-Web": "1",
  };
  const url = `${PROXY}${path}?${overwriteParam(headers)}`;
  const r = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded;charset=utf-8" },
    body: base64Encode(encodeFrame(utf8(message))),
  });
  return readAnswer(r, ["x-server-id", "x-header-reason", "grpc-status", "grpc-message"]);
}

// The page's view of a gRPC-Web response: status, the named headers via response.headers.get (null when CORS hides
// them), the messages and the trailer frame.
async function readAnswer(r, names) {
  const seen = {};
  for (const name of names) seen[name] = r.headers.get(name);
  const contentType = r.headers.get("content-type") || "";
  const text = await r.text();
  const messages = [];
  let trailers = {};
  if (contentType.startsWith("application/grpc-web-text")) {
    for (const f of new FrameParser().push(new Base64StreamDecoder().push(text))) {
      if (f.flags & 0x80) trailers = parseHeaderBlock(f.payload);
      else messages.push(fromUtf8(f.payload));
    }
  }
  return {
    httpStatus: r.status,
    contentType,
    exposeHeaders: r.headers.get("access-control-expose-headers"),
    headers: seen,
    messages,
    trailers,
    body: contentType.startsWith("application/grpc-web") ? null : text,
  };
}

// An ordinary (preflighted) gRPC-Web call, for the expose-headers cases.
async function preflightedCall(path, metadata, names) {
  const r = await fetch(`${PROXY}${path}`, {
    method: "POST",
    headers: { "content-type": "application/grpc-web-text", "accept": "application/grpc-web-text",
               "x-grpc-web": "1", "x-user-agent": "grpc-web-javascript/0.1", ...metadata },
    body: base64Encode(encodeFrame(utf8("m"))),
  });
  return readAnswer(r, names);
}

const CASES = {
  // The call itself, with metadata the upstream echoes back as JSON (x-echo-metadata).
  simple_call: () => simpleCall("/test.Echo/Unary", { "x-custom": "from the page", "x-echo-metadata": "1" }, "hi"),

  // A failure answered trailers-only: the page reads grpc-status, grpc-message and metadata from the headers.
  simple_call_failure: () => simpleCall("/test.Echo/Unary",
    { "x-fail-code": "7", "x-fail-message": "not%20you", "x-header-reason": "quota" }, "x"),

  // Refused by the proxy (a header a page may not set): the page still reads why (CORS headers on the 400).
  simple_call_forbidden_header: () => simpleCall("/test.Echo/Unary", { "cookie": "a=b" }, "x"),

  // Custom initial metadata nobody listed in expose_headers.
  custom_metadata: () => preflightedCall("/test.Echo/Unary", { "x-header-flavour": "mint" },
    ["x-header-flavour", "x-server-id"]),

  // Trailers-only answer with custom metadata.
  trailers_only_metadata: () => preflightedCall("/test.Echo/Unary",
    { "x-fail-code": "5", "x-fail-message": "gone", "x-header-where": "nowhere" },
    ["grpc-status", "grpc-message", "x-header-where", "x-server-id"]),
};

runCases(CASES);
