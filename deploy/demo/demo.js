// The demo page's behaviour: three calls through grpc-web-proxy, results shown as they arrive.
import { call, WebSocketCall, utf8, fromUtf8, StatusCode } from "./grpc-web-lite.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
if (params.get("proxy")) $("proxy").value = params.get("proxy");
if (params.get("text") === "1") $("text-mode").checked = true;

const proxy = () => $("proxy").value.trim().replace(/\/$/, "");
const textMode = () => $("text-mode").checked;
const codeName = (code) => Object.keys(StatusCode).find((k) => StatusCode[k] === code) ?? String(code);

function line(outId, text, cls = "", startedAt = null) {
  const div = document.createElement("div");
  if (cls) div.className = cls;
  if (startedAt !== null) {
    const t = document.createElement("span");
    t.className = "t";
    t.textContent = `+${((performance.now() - startedAt) / 1000).toFixed(2)}s`;
    div.append(t);
  }
  div.append(text);
  $(outId).append(div);
  $(outId).scrollTop = $(outId).scrollHeight;
}

function showStatus(id, status, message, extra = "") {
  const el = $(id);
  el.className = "status " + (status === StatusCode.OK ? "ok" : "err");
  el.textContent = `${codeName(status)} (${status})` + (message ? ` — ${message}` : "") + extra;
}

function showError(id, err) {
  $(id).className = "status err";
  $(id).textContent = `transport error: ${err.message || err}`;
}

// --- SayHello (unary) ---------------------------------------------------------------------------------------
async function sayHello() {
  $("hello-status").className = "status";
  $("hello-status").textContent = "calling…";
  const started = performance.now();
  try {
    const r = await call(proxy(), "/demo.Greeter/SayHello", [utf8($("hello-name").value)], { text: textMode() });
    for (const m of r.messages) line("hello-out", fromUtf8(m), "", started);
    const when = r.trailers?.["x-greeted-at"] ? ` · greeted at ${r.trailers["x-greeted-at"]}` : "";
    showStatus("hello-status", r.status, r.statusMessage, `${when} · ${textMode() ? "text" : "binary"}`);
  } catch (e) {
    showError("hello-status", e);
  }
}

// --- Countdown (server streaming) ---------------------------------------------------------------------------
let countAbort = null;

async function countdown() {
  $("count-out").textContent = "";
  $("count-status").className = "status";
  $("count-status").textContent = "streaming…";
  $("count-stop").disabled = false;
  countAbort = new AbortController();
  const started = performance.now();
  try {
    const r = await call(proxy(), "/demo.Greeter/Countdown", [utf8(String($("count-n").value))], {
      text: textMode(), signal: countAbort.signal,
      onMessage: (m) => line("count-out", fromUtf8(m), "", started),
    });
    if (r.status === StatusCode.OK) line("count-out", "liftoff!", "", started);
    showStatus("count-status", r.status, r.statusMessage, ` · ${r.messages.length} messages`);
  } catch (e) {
    if (e.name === "AbortError") {
      $("count-status").className = "status err";
      $("count-status").textContent = "stopped by you (the proxy cancels the upstream call)";
    } else {
      showError("count-status", e);
    }
  } finally {
    $("count-stop").disabled = true;
    countAbort = null;
  }
}

// --- Chat (bidi over WebSocket) -----------------------------------------------------------------------------
let chat = null;
let chatStarted = 0;

function openChat() {
  chatStarted = performance.now();
  const c = new WebSocketCall(proxy(), "/demo.Greeter/Chat", {}, {
    onMessage: (m) => line("chat-out", fromUtf8(m), "", chatStarted),
  });
  $("chat-status").className = "status";
  $("chat-status").textContent = "connecting…";
  c.opened.then(() => { $("chat-status").textContent = "stream open"; }, (e) => showError("chat-status", e));
  c.done.then((r) => {
    showStatus("chat-status", r.status, r.statusMessage, ` · closed ${r.closeCode}`);
    if (chat === c) chat = null;
  });
  return c;
}

function sendChat() {
  const text = $("chat-text").value;
  if (!text) return;
  if (!chat) chat = openChat();
  line("chat-out", `> ${text}`, "me", chatStarted);
  chat.send(utf8(text));
}

function endChat() {
  if (chat) chat.halfClose();  // the server finishes after echoing what it has, then closes the socket
}

$("hello-form").addEventListener("submit", (e) => { e.preventDefault(); sayHello(); });
$("count-form").addEventListener("submit", (e) => { e.preventDefault(); countdown(); });
$("count-stop").addEventListener("click", () => countAbort?.abort());
$("chat-form").addEventListener("submit", (e) => { e.preventDefault(); sendChat(); });
$("chat-end").addEventListener("click", endChat);

// ?demo=1 runs everything once, for screenshots and smoke tests.
if (params.get("demo") === "1") {
  sayHello();
  $("count-n").value = "3";
  countdown();
  for (const word of ["hello there", "grpc over websockets"]) {
    $("chat-text").value = word;
    sendChat();
  }
  setTimeout(endChat, 1500);
}
