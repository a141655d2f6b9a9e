"""Issue 13, item 1, in a real browser: headless Chromium on another origin calls a route that requires a JWT.
Without a token, with an expired or a tampered one, the page reads grpc-status 16 and the message saying what was
wrong (the refusal carries the CORS headers); with a valid one the call succeeds and the upstream saw the claim
header. The page is browser/jwt_page.html (jwt_tests.js); the tokens, signed here, are served as /jwt_tokens.js."""

from __future__ import annotations

import json
import time

import pytest

from browser import harness as harness_module
from conftest import default_route
from jwt_support import SigningKey, jwks, provider, tamper
from test_browser_grpcweb import harness  # noqa: F401  (the module-scoped Chromium harness fixture)

pytestmark = pytest.mark.timeout(120)


def test_page_reads_16_and_its_message_and_a_valid_token_goes_through(harness, start_proxy, tmp_path, monkeypatch):
    key = SigningKey("ES256", "browser-key")
    (tmp_path / "jwks.json").write_text(jwks(key))
    tokens = {"valid": key.token({"sub": "browser-user"}), "expired": key.token({"exp": int(time.time()) - 120}),
              "tampered": tamper(key.token(), sub="admin")}
    tokens_js = tmp_path / "jwt_tokens.js"
    tokens_js.write_text(f"export const TOKENS = {json.dumps(tokens)};\n")
    monkeypatch.setitem(harness_module.STATIC, "/jwt_tokens.js", (tokens_js, "text/javascript; charset=utf-8"))
    proxy = start_proxy(
        routes=[default_route(jwt={"provider": "auth0"})],
        listener_extra={"cors": {"allow_origins": [harness.origin], "allow_headers": ["authorization", "x-echo-metadata"],
                                 "max_age": "1h", "allow_credentials": False}},
        top_extra={"jwt_providers": [provider(tmp_path / "jwks.json", clock_skew="0s")]})
    cases = ["jwt_missing", "jwt_expired", "jwt_tampered", "jwt_valid"]
    results = harness.run(proxy.base_url, cases, page="jwt_page.html")
    for name in cases:
        assert "error" not in results[name], f"{name}: {results[name]['error']} (page log: {harness.page_log})"
    assert (results["jwt_missing"]["status"], results["jwt_missing"]["statusMessage"]) == (16, "missing JWT")
    expired = results["jwt_expired"]
    assert expired["status"] == 16 and expired["statusMessage"].startswith("JWT expired at 20"), expired
    assert (results["jwt_tampered"]["status"], results["jwt_tampered"]["statusMessage"]) == (16, "JWT signature invalid")
    valid = results["jwt_valid"]
    assert valid["status"] == 0, valid
    assert valid["echoed"]["x-user-id"] == "browser-user", valid["echoed"]
