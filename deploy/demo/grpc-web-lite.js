// grpc-web-lite.js: a tiny gRPC-Web client for browsers, no dependencies, no build step (an ES module).
//
// Two transports, both talking to grpc-web-proxy (the wire formats are summarised in the README: gRPC-Web calls, and "The WebSocket endpoint"):
//   * call():            unary and server streaming over fetch(), binary (application/grpc-web+proto) or text
//                        (application/grpc-web-text, base64). The body is read incrementally with
//                        response.body.getReader(), so streamed messages are delivered as they arrive.
//   * WebSocketCall:     client / bidi streaming over a WebSocket with the "grpc-websockets" subprotocol.
//
// Messages are raw bytes (Uint8Array): encode them with your protobuf library, or use UTF-8 for demos.
// The demo page (index.html / demo.js) and the browser integration tests (Tests/Integration/browser) share it.

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

export const StatusCode = Object.freeze({
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
});

export function utf8(text) { return utf8Encoder.encode(text); }
export function fromUtf8(bytes) { return utf8Decoder.decode(bytes); }

/** One length-prefixed frame: flags byte, uint32 big-endian length, payload. */
export function encodeFrame(payload, flags = 0) {
  const out = new Uint8Array(5 + payload.length);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, payload.length, false);
  out.set(payload, 5);
  return out;
}

function concat(a, b) {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Reassembles frames from chunks whose boundaries mean nothing (HTTP chunks, WebSocket messages). */
export class FrameParser {
  constructor() { this.buf = new Uint8Array(0); }
  push(chunk) {
    this.buf = concat(this.buf, chunk);
    const frames = [];
    let off = 0;
    while (this.buf.length - off >= 5) {
      const len = new DataView(this.buf.buffer, this.buf.byteOffset + off + 1, 4).getUint32(0, false);
      if (this.buf.length - off - 5 < len) break;
      frames.push({ flags: this.buf[off], payload: this.buf.slice(off + 5, off + 5 + len) });
      off += 5 + len;
    }
    this.buf = this.buf.slice(off);
    return frames;
  }
  get pending() { return this.buf.length; }
}

/** "name:value\r\n" lines (space after the colon optional) to an object with lower-case names. */
export function parseHeaderBlock(bytes) {
  const out = {};
  for (const line of fromUtf8(bytes).split("\r\n")) {
    const i = line.indexOf(":");
    if (i <= 0) continue;
    const name = line.slice(0, i).trim().toLowerCase();
    const value = line.slice(i + 1).trim();
    out[name] = name in out ? `${out[name]}, ${value}` : value;
  }
  return out;
}

export function decodeGrpcMessage(value) {
  if (value == null) return "";
  try { return decodeURIComponent(value); } catch { return value; }
}

export function base64Encode(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/**
 * Streaming base64 decoder for grpc-web-text responses. The server may pad at every flush, so "=" can appear in
 * the middle of the stream: decode each complete 4-character quantum on its own terms, keep the 0-3 leftover.
 */
export class Base64StreamDecoder {
  constructor() { this.pending = ""; }
  push(text) {
    this.pending += text.replace(/\s+/g, "");
    const usable = this.pending.length - (this.pending.length % 4);
    const chunk = this.pending.slice(0, usable);
    this.pending = this.pending.slice(usable);
    const parts = [];
    let runStart = 0;
    for (let q = 0; q < chunk.length; q += 4) {
      if (chunk[q + 3] === "=") {        // a padded quantum ends a run that atob can take in one go
        parts.push(chunk.slice(runStart, q + 4));
        runStart = q + 4;
      }
    }
    if (runStart < chunk.length) parts.push(chunk.slice(runStart));
    let total = 0;
    const decoded = parts.map((p) => {
      const bin = atob(p);
      const b = new Uint8Array(bin.length);
      for (let i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i);
      total += b.length;
      return b;
    });
    const out = new Uint8Array(total);
    let off = 0;
    for (const b of decoded) { out.set(b, off); off += b.length; }
    return out;
  }
}

// Mapping used only when a response carries no grpc-status at all (grpc-web's HTTP-to-gRPC status table).
function statusFromHttp(http) {
  switch (http) {
    case 200: return StatusCode.UNKNOWN;
    case 400: return StatusCode.INVALID_ARGUMENT;
    case 401: return StatusCode.UNAUTHENTICATED;
    case 403: return StatusCode.PERMISSION_DENIED;
    case 404: return StatusCode.NOT_FOUND;
    case 429: return StatusCode.RESOURCE_EXHAUSTED;
    case 503: return StatusCode.UNAVAILABLE;
    case 504: return StatusCode.DEADLINE_EXCEEDED;
    default: return StatusCode.UNKNOWN;
  }
}

/**
 * A unary or server-streaming call over fetch.
 * opts: { text: bool, metadata: {name: value}, timeoutMs, signal: AbortSignal,
 *         onHeaders(headersObject), onMessage(payload: Uint8Array, atMs: number) }
 * Resolves with { httpStatus, headers, messages, arrivals, trailers, trailersOnly, status, statusMessage }.
 * A transport failure (network error, abort) rejects.
 */
export async function call(baseUrl, path, requests, opts = {}) {
  const text = !!opts.text;
  const headers = {
    "content-type": text ? "application/grpc-web-text" : "application/grpc-web+proto",
    "x-grpc-web": "1",
    "x-user-agent": "grpc-web-lite/0.1",
  };
  if (text) headers["accept"] = "application/grpc-web-text";
  if (opts.timeoutMs != null) headers["grpc-timeout"] = `${Math.max(1, Math.ceil(opts.timeoutMs))}m`;
  Object.assign(headers, opts.metadata || {});

  let body = new Uint8Array(0);
  for (const r of requests) body = concat(body, encodeFrame(r));

  const response = await fetch(baseUrl.replace(/\/$/, "") + path, {
    method: "POST", headers, body: text ? base64Encode(body) : body, signal: opts.signal,
    cache: "no-store",
  });
  const result = {
    httpStatus: response.status, headers: {}, messages: [], arrivals: [], trailers: null, trailersOnly: false,
    status: null, statusMessage: "",
  };
  response.headers.forEach((v, k) => { result.headers[k] = v; });
  if (opts.onHeaders) opts.onHeaders(result.headers);
  const responseIsText = (response.headers.get("content-type") || "").startsWith("application/grpc-web-text");

  const parser = new FrameParser();
  const b64 = new Base64StreamDecoder();
  const reader = response.body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const bytes = responseIsText ? b64.push(utf8Decoder.decode(value, { stream: true })) : value;
    for (const f of parser.push(bytes)) {
      if (f.flags & 0x80) {
        result.trailers = parseHeaderBlock(f.payload);
      } else {
        const at = performance.now();
        result.messages.push(f.payload);
        result.arrivals.push(at);
        if (opts.onMessage) opts.onMessage(f.payload, at);
      }
    }
  }
  if (parser.pending !== 0) throw new Error(`response ended inside a frame (${parser.pending} bytes left)`);
  if (result.trailers && "grpc-status" in result.trailers) {
    result.status = Number(result.trailers["grpc-status"]);
    result.statusMessage = decodeGrpcMessage(result.trailers["grpc-message"]);
  } else if (response.headers.has("grpc-status")) {   // trailers-only: status in the (CORS-exposed) headers
    result.trailersOnly = true;
    result.status = Number(response.headers.get("grpc-status"));
    result.statusMessage = decodeGrpcMessage(response.headers.get("grpc-message"));
  } else {
    result.status = response.status === 200 ? null : statusFromHttp(response.status);
  }
  return result;
}

/** ws:// URL for the same host as an http:// base URL. */
export function webSocketBase(baseUrl) {
  return baseUrl.replace(/^http(s?):\/\//, (m, s) => `ws${s}://`).replace(/\/$/, "");
}

/**
 * A client-streaming or bidi call over WebSocket ("grpc-websockets", improbable-eng framing):
 * first message = metadata block, then 0x00 + frame bytes per message, 0x01 = half-close.
 * Server messages are one byte stream of frames: first 0x80 frame = headers, a later one = trailers.
 * Callbacks: onHeaders(obj), onMessage(payload, atMs). `done` resolves at close with
 * { headers, trailers, trailersOnly, messages, arrivals, status, statusMessage, closeCode, closeReason }.
 */
export class WebSocketCall {
  constructor(baseUrl, path, metadata = {}, callbacks = {}) {
    this.callbacks = callbacks;
    this.parser = new FrameParser();
    this.queue = [];
    this.result = { headers: null, trailers: null, trailersOnly: false, messages: [], arrivals: [], status: null,
      statusMessage: "", closeCode: null, closeReason: "" };
    this.ws = new WebSocket(webSocketBase(baseUrl) + path, "grpc-websockets");
    this.ws.binaryType = "arraybuffer";
    let block = "content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\n";
    for (const [k, v] of Object.entries(metadata)) block += `${k}: ${v}\r\n`;
    this.queue.push(utf8(block));
    this.opened = new Promise((resolve, reject) => {
      this.ws.onopen = () => {
        for (const m of this.queue) this.ws.send(m);
        this.queue = null;
        resolve();
      };
      this.ws.onerror = () => reject(new Error("WebSocket error"));
    });
    this.opened.catch(() => {});
    this.ws.onmessage = (ev) => this._onData(new Uint8Array(ev.data));
    this.done = new Promise((resolve) => {
      this.ws.onclose = (ev) => {
        const r = this.result;
        r.closeCode = ev.code;
        r.closeReason = ev.reason;
        if (!r.trailers && r.headers && "grpc-status" in r.headers && r.messages.length === 0) {
          r.trailers = r.headers;          // one lone block: a trailers-only answer
          r.trailersOnly = true;
        }
        if (r.trailers && "grpc-status" in r.trailers) {
          r.status = Number(r.trailers["grpc-status"]);
          r.statusMessage = decodeGrpcMessage(r.trailers["grpc-message"]);
        } else {
          r.status = StatusCode.UNAVAILABLE;  // closed without a status: the transport failed
          r.statusMessage = `connection closed (${ev.code}) without a status`;
        }
        resolve(r);
      };
    });
  }

  _send(bytes) {
    if (this.queue) this.queue.push(bytes); else this.ws.send(bytes);
  }

  _onData(bytes) {
    for (const f of this.parser.push(bytes)) {
      if (f.flags & 0x80) {
        const block = parseHeaderBlock(f.payload);
        if (this.result.headers === null && this.result.messages.length === 0) {
          this.result.headers = block;
          if (this.callbacks.onHeaders) this.callbacks.onHeaders(block);
        } else {
          this.result.trailers = block;
        }
      } else {
        const at = performance.now();
        this.result.messages.push(f.payload);
        this.result.arrivals.push(at);
        if (this.callbacks.onMessage) this.callbacks.onMessage(f.payload, at);
      }
    }
  }

  send(payload) { this._send(concat(new Uint8Array([0]), encodeFrame(payload))); }
  halfClose() { this._send(new Uint8Array([1])); }
  cancel() { this.ws.close(1000, "cancelled"); }
}
