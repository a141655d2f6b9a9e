// JWT cases for test_browser_jwt.py: cross-origin gRPC-Web calls with and without a bearer token. The tokens are
// signed by the Python test at run time and served as /jwt_tokens.js. Each case returns plain JSON; the Python
// test makes the assertions.
import { call, fromUtf8, utf8 } from "/lib/grpc-web-lite.js";
import { PROXY, runCases } from "/runner.js";
import { TOKENS } from "/jwt_tokens.js";

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

runCases({
  jwt_missing: () => unaryWith(null),
  jwt_expired: () => unaryWith(TOKENS.expired),
  jwt_tampered: () => unaryWith(TOKENS.tampered),
  jwt_valid: () => unaryWith(TOKENS.valid),
});
