// JWT cases for test_browser_jwt.py: cross-origin gRPC-Web calls with and without a bearer token. The tokens are
// signed by the Python test at run time and served as /jwt_tokens.js. Each case returns plain JSON; the Python
// test makes the assertions.
import { call, fromUtf8, utf8 } from "/lib/grpc-web-lite.js";
import { TOKENS } from "/jwt_tokens.js";

const params = new URLSearchParams(location.search);
const PROXY = params.get("proxy");
const SELECTED = (params.get("tests") || "").split(",").filter(Boolean);

function log(line) {
  document.getElementById("log").textContent += "\n" + line;
  navigator.sendBeacon("/log", line);
}

async function unaryWith(token) {
  const metadata = { "x-echo-metadata": "1" };
  if (token) metadata.authorization = `Bearer ${token}`;
  const r = await call(PROXY, "/test.Echo/Unary", [utf8("hi")], { metadata });
  return {
    httpStatus: r.httpStatus ?? null,
    status: r.status,
    statusMessage: r.statusMessage,
    // The upstream's echo of the metadata it received (valid calls only).
    echoed: r.messages.length ? JSON.parse(fromUtf8(r.messages[0])) : null,
  };
}

const CASES = {
  jwt_missing: () => unaryWith(null),
  jwt_expired: () => unaryWith(TOKENS.expired),
  jwt_tampered: () => unaryWith(TOKENS.tampered),
  jwt_valid: () => unaryWith(TOKENS.valid),
};

async function main() {
  const results = {};
  for (const name of SELECTED) {
    const fn = CASES[name];
    if (!fn) { results[name] = { error: `unknown test ${name}` }; continue; }
    try {
      results[name] = await fn();
      log(`${name}: done`);
    } catch (e) {
      results[name] = { error: `${e.name}: ${e.message}` };
      log(`${name}: ${e}`);
    }
  }
  await fetch("/result", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ userAgent: navigator.userAgent, results }),
  });
}

window.addEventListener("error", (e) => log(`page error: ${e.message}`));
main();
