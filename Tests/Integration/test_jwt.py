"""Issue 13, item 1: JWT verification per route. Tokens are signed at test time (jwt_support.py) with every
algorithm the proxy accepts; every failure of the issue answers 16 with a message that says what was wrong (and
the CORS headers, so a page can read it); a valid token reaches the upstream with the claim headers and without
the client's own copies, over gRPC-Web, WebSocket (metadata message or cookie) and native gRPC; a new jwks_file
is picked up by a reload; refusals are counted by reason."""

from __future__ import annotations

import os

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")  # before grpc is imported: the tests start processes

import json  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import grpc  # noqa: E402
import pytest  # noqa: E402

from conftest import build_config, default_route, require_proxy_bin, to_yaml  # noqa: E402
from grpcweb_client import call  # noqa: E402
from jwt_support import ALGORITHMS, AUDIENCE, SigningKey, hs256_with_public_key, jwks, provider, tamper, \
    unsigned_token  # noqa: E402
from tls_support import pki  # noqa: F401,E402  (session fixture)
from ws_client import GrpcWsCall  # noqa: E402

pytestmark = pytest.mark.timeout(60)

UNARY = "/test.Echo/Unary"
ORIGIN = "https://app.example"


@pytest.fixture(scope="module")
def keys():
    return {alg: SigningKey(alg, f"k-{alg.lower()}") for alg in ALGORITHMS}


@pytest.fixture
def jwt_proxy(start_proxy, tmp_path, keys):
    """A proxy whose only route requires a token of provider auth0 (every test key in its JWKS)."""
    def make(required: bool = True, extra_provider: dict | None = None, top_extra: dict | None = None, **kw):
        path = tmp_path / "jwks.json"
        path.write_text(jwks(*keys.values()))
        route = default_route(jwt={"provider": "auth0", "required": required})
        top = {"jwt_providers": [provider(path, **(extra_provider or {}))], **(top_extra or {})}
        proxy = start_proxy(routes=[route], top_extra=top, **kw)
        proxy.jwks_path = path
        return proxy
    return make


def echo(proxy, token: str | None = None, *, metadata: dict | None = None, origin: str | None = None):
    md = {"x-echo-metadata": "1", **(metadata or {})}
    if token is not None:
        md["authorization"] = f"Bearer {token}"
    return call(proxy.base_url, UNARY, [b"hi"], metadata=md, origin=origin, timeout_s=10)


def seen_upstream(result) -> dict:
    assert result.grpc_status == 0, (result.grpc_status, result.grpc_message, result.error)
    return json.loads(result.messages[0])


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_valid_token_reaches_upstream_with_claims_and_without_client_copies(jwt_proxy, keys, alg):
    proxy = jwt_proxy()
    token = keys[alg].token({"sub": f"user-{alg}"})
    r = echo(proxy, token, metadata={"x-user-id": "forged", "x-user-email": "forged@evil.test"})
    seen = seen_upstream(r)
    assert seen.get("x-user-id") == f"user-{alg}", seen
    assert seen.get("x-user-email") == "u42@example.test", seen


def test_forward_jwt_false_keeps_the_token_from_the_upstream(jwt_proxy, keys):
    token = keys["RS256"].token()
    assert seen_upstream(echo(jwt_proxy(), token))["authorization"] == f"Bearer {token}", "forwarded by default"
    proxy = jwt_proxy(extra_provider={"forward_jwt": False})
    seen = seen_upstream(echo(proxy, token, metadata={"x-other": "kept"}))
    assert "authorization" not in seen and seen["x-other"] == "kept" and seen["x-user-id"] == "user-42", seen
    seen = seen_upstream(echo(proxy, metadata={"x-auth": token}))
    assert "x-auth" not in seen and seen["x-user-id"] == "user-42", seen


def test_missing_claim_still_removes_the_client_copy(jwt_proxy, keys):
    proxy = jwt_proxy()
    token = keys["ES256"].token({"email": None})
    seen = seen_upstream(echo(proxy, token, metadata={"x-user-email": "forged@evil.test"}))
    assert "x-user-email" not in seen, seen
    assert seen.get("x-user-id") == "user-42"


def failure_cases(keys):
    rsa, ec = keys["RS256"], keys["ES256"]
    now = int(time.time())
    return {
        "expired": (ec.token({"exp": now - 3600}), "expired", r"JWT expired at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"),
        "not_yet_valid": (ec.token({"nbf": now + 3600}), "not_yet_valid", r"JWT not valid before \d{4}-"),
        "issuer": (ec.token({"iss": "https://other.test/"}), "issuer", r'JWT issuer "https://other.test/" not accepted'),
        "audience": (ec.token({"aud": ["api://billing"]}), "audience", r'JWT audience "api://billing" not accepted'),
        "unknown_key": (ec.token(header={"kid": "k9"}), "unknown_key", r'JWT key id "k9" unknown for provider auth0'),
        "alg_none": (unsigned_token({"sub": "admin", "iss": "https://issuer.test/", "aud": AUDIENCE,
                                     "exp": now + 600}), "algorithm", r"JWT algorithm none refused"),
        "hs256_public_key": (hs256_with_public_key(rsa, {"sub": "admin", "exp": now + 600}), "algorithm",
                             r"JWT algorithm HS256 refused"),
        "tampered": (tamper(rsa.token(), sub="admin"), "signature", r"JWT signature invalid"),
        "wrong_key_for_kid": (ec.token(header={"kid": "k-es384", "alg": "ES256"}), "algorithm",
                              r"JWT algorithm ES256 refused"),
        "malformed": ("not-a-jwt", "malformed", r"JWT malformed"),
        "missing": (None, "missing", r"missing JWT"),
    }


@pytest.mark.parametrize("case", ["expired", "not_yet_valid", "issuer", "audience", "unknown_key", "alg_none",
                                  "hs256_public_key", "tampered", "wrong_key_for_kid", "malformed", "missing"])
def test_each_failure_is_16_with_its_message_cors_headers_and_metric(jwt_proxy, keys, upstream, case):
    proxy = jwt_proxy()
    token, reason, pattern = failure_cases(keys)[case]
    before = upstream.stats()["received"].get(UNARY, 0)
    r = echo(proxy, token, origin=ORIGIN)
    assert r.grpc_status == 16, (case, r.grpc_status, r.grpc_message)
    assert re.search(pattern, r.grpc_message or ""), (case, r.grpc_message)
    assert r.headers.get("access-control-allow-origin") in (ORIGIN, "*"), r.headers
    assert "grpc-message" in r.headers.get("access-control-expose-headers", "").lower(), r.headers
    assert upstream.stats()["received"].get(UNARY, 0) == before, "a refused call reached the upstream"
    status, text = proxy.admin_get("/metrics")
    assert re.search(rf'grpcwebproxy_rejected_calls_total\{{[^}}]*stage="jwt"[^}}]*reason="{reason}"[^}}]*\}} 1\b',
                     text), [l for l in text.splitlines() if "rejected" in l]


@pytest.mark.parametrize("limit,size", [(None, 20000), ("2KiB", 3000)])
def test_a_token_over_max_token_size_is_16(jwt_proxy, keys, limit, size):
    proxy = jwt_proxy(extra_provider={"max_token_size": limit} if limit else None)
    token = keys["ES256"].token({"padding": "x" * size})
    r = echo(proxy, token, origin=ORIGIN)
    assert r.grpc_status == 16, (r.grpc_status, r.grpc_message, r.http_status)
    assert f"JWT malformed: longer than {2048 if limit else 16384} bytes" in r.grpc_message, r.grpc_message
    assert r.headers.get("access-control-allow-origin") in (ORIGIN, "*"), r.headers
    if limit:
        assert seen_upstream(echo(proxy, keys["ES256"].token()))["x-user-id"] == "user-42"


def test_a_token_larger_than_the_header_limit_is_refused_without_reaching_upstream(jwt_proxy, keys, upstream):
    proxy = jwt_proxy(top_extra={"limits": {"max_request_headers_size": "8KiB"}})
    before = upstream.stats()["received"].get(UNARY, 0)
    r = echo(proxy, keys["ES256"].token({"padding": "x" * 9000}), origin=ORIGIN)
    # Refused by the HTTP layer before any route (so any JWT rule) is known: the head is never parsed.
    assert r.http_status == 431, (r.http_status, r.grpc_status, r.grpc_message)
    assert upstream.stats()["received"].get(UNARY, 0) == before


def test_token_from_cookie_and_metadata_sources(jwt_proxy, keys):
    proxy = jwt_proxy()
    token = keys["EdDSA"].token({"sub": "cookie-user"})
    r = call(proxy.base_url, UNARY, [b"hi"], metadata={"x-echo-metadata": "1"},
             extra_headers=[("Cookie", f"theme=dark; session={token}")], timeout_s=10)
    assert seen_upstream(r)["x-user-id"] == "cookie-user"
    token = keys["PS256"].token({"sub": "metadata-user"})
    assert seen_upstream(echo(proxy, metadata={"x-auth": token}))["x-user-id"] == "metadata-user"


def test_optional_jwt_lets_anonymous_calls_through_without_claims_but_refuses_bad_tokens(jwt_proxy, keys):
    proxy = jwt_proxy(required=False)
    seen = seen_upstream(echo(proxy, metadata={"x-user-id": "forged"}))
    assert "x-user-id" not in seen, seen
    r = echo(proxy, tamper(keys["RS256"].token(), sub="admin"))
    assert r.grpc_status == 16 and r.grpc_message == "JWT signature invalid", (r.grpc_status, r.grpc_message)
    assert seen_upstream(echo(proxy, keys["RS256"].token()))["x-user-id"] == "user-42"


def test_cached_token_stops_working_when_it_expires(jwt_proxy, keys):
    proxy = jwt_proxy(extra_provider={"clock_skew": "0s"})
    token = keys["ES256"].token({"exp": int(time.time()) + 2})
    assert seen_upstream(echo(proxy, token))["x-user-id"] == "user-42"
    assert seen_upstream(echo(proxy, token))["x-user-id"] == "user-42"  # from the cache
    deadline = time.monotonic() + 6
    r = echo(proxy, token)
    while r.grpc_status == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
        r = echo(proxy, token)
    assert r.grpc_status == 16 and r.grpc_message.startswith("JWT expired at"), (r.grpc_status, r.grpc_message)


@pytest.mark.parametrize("cache_size", [0, 1])
def test_small_caches_still_verify_every_token(jwt_proxy, keys, cache_size):
    proxy = jwt_proxy(extra_provider={"cache_size": cache_size})
    tokens = [keys["ES256"].token({"sub": f"u{i}"}) for i in range(3)]
    for _ in range(2):
        for i, token in enumerate(tokens):
            assert seen_upstream(echo(proxy, token))["x-user-id"] == f"u{i}"
    assert echo(proxy, tamper(tokens[0], sub="admin")).grpc_status == 16


def test_websocket_token_in_metadata_message_and_in_cookie(jwt_proxy, keys):
    proxy = jwt_proxy()
    token = keys["ES384"].token({"sub": "ws-user"})
    ws = GrpcWsCall(proxy.base_url, UNARY, {"authorization": f"Bearer {token}", "x-echo-metadata": "1",
                                            "x-user-id": "forged"})
    ws.send(b"hi")
    ws.half_close()
    r = ws.finish()
    assert r.grpc_status == 0, (r.grpc_status, r.grpc_message)
    assert json.loads(r.messages[0])["x-user-id"] == "ws-user"
    token = keys["RS512"].token({"sub": "ws-cookie-user"})
    ws = GrpcWsCall(proxy.base_url, UNARY, {"x-echo-metadata": "1"},
                    additional_headers={"Cookie": f"session={token}"})
    ws.send(b"hi")
    ws.half_close()
    r = ws.finish()
    assert r.grpc_status == 0, (r.grpc_status, r.grpc_message)
    assert json.loads(r.messages[0])["x-user-id"] == "ws-cookie-user"
    # Refused as soon as the metadata message arrived; nothing more is sent (frames sent after the proxy closed
    # could make its kernel answer with a reset that discards the trailers before they are read).
    ws = GrpcWsCall(proxy.base_url, UNARY, {"authorization": f"Bearer {tamper(token, sub='admin')}"})
    r = ws.finish()
    assert r.grpc_status == 16 and r.grpc_message == "JWT signature invalid", (r.grpc_status, r.grpc_message)


def test_native_grpc_client(jwt_proxy, keys):
    proxy = jwt_proxy()
    with grpc.insecure_channel(f"127.0.0.1:{proxy.port}") as ch:
        fn = ch.unary_unary(UNARY)
        token = keys["RS384"].token({"sub": "native-user"})
        reply = fn(b"hi", timeout=10, metadata=[("authorization", f"Bearer {token}"), ("x-echo-metadata", "1"),
                                                 ("x-user-id", "forged")])
        assert json.loads(reply)["x-user-id"] == "native-user"
        with pytest.raises(grpc.RpcError) as e:
            fn(b"hi", timeout=10, metadata=[("authorization", f"Bearer {keys['RS384'].token({'exp': 1})}")])
        assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert e.value.details().startswith("JWT expired at 1970-01-01T00:00:01Z"), e.value.details()


def test_reload_picks_up_a_new_jwks_file(jwt_proxy, keys):
    proxy = jwt_proxy()
    old, new = keys["ES256"], SigningKey("ES256", "k-rotated")
    assert seen_upstream(echo(proxy, old.token()))["x-user-id"] == "user-42"
    r = echo(proxy, new.token())
    assert r.grpc_status == 16 and 'key id "k-rotated" unknown' in r.grpc_message, r.grpc_message
    proxy.jwks_path.write_text(jwks(new))
    proxy.proc.send_signal(signal.SIGHUP)
    assert proxy.wait_log(r"config reloaded", timeout_s=5)
    deadline = time.monotonic() + 5
    while echo(proxy, new.token()).grpc_status != 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen_upstream(echo(proxy, new.token()))["x-user-id"] == "user-42"
    r = echo(proxy, old.token())
    assert r.grpc_status == 16 and 'key id "k-es256" unknown' in r.grpc_message, r.grpc_message


# -- config errors ---------------------------------------------------------------------------------------------


def validate(tmp_path, config: dict) -> str:
    f = tmp_path / "jwt.yaml"
    f.write_text(to_yaml(config) + "\n")
    r = subprocess.run([str(require_proxy_bin()), "--validate", "--config", str(f)], capture_output=True, text=True,
                       timeout=20, stdin=subprocess.DEVNULL)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    return r.stdout + r.stderr


def jwt_config(tmp_path, jwks_text: str, route_jwt: dict | None = None, **provider_extra) -> dict:
    path = tmp_path / "keys" / "jwks.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(jwks_text)
    p = provider("keys/jwks.json", **provider_extra)
    route = default_route(jwt=route_jwt or {"provider": "auth0"})
    return build_config(port=18191, admin_port=18192, upstream_port=50051, routes=[route],
                        top_extra={"jwt_providers": [p]})


@pytest.mark.parametrize("jwks_text,message", [
    ("{not json", "JWKS is not valid JSON"),
    ('{"keys": []}', "JWKS has no usable signature key"),
    ('{"keys": [{"kty": "RSA", "kid": "a", "n": "AQAB", "e": "AQAB"}]}', "keys[0]: RSA key of 17 bits is too short"),
    ('{"keys": [{"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}]}', "keys[0]: EC coordinates"),
    ('{"keys": [{"kty": "EC", "crv": "P-256", "d": "AAAA", "x": "AAAA", "y": "AAAA"}]}', "private key"),
])
def test_a_bad_jwks_file_is_a_located_config_error(tmp_path, jwks_text, message):
    out = validate(tmp_path, jwt_config(tmp_path, jwks_text))
    assert re.search(r"jwt\.yaml:\d+:\d+: jwt_providers\[0\]\.jwks_file: .*keys/jwks\.json: ", out), out
    assert message in out, out


def test_an_off_curve_ec_point_is_refused_at_load(tmp_path, keys):
    jwk = keys["ES256"].jwk()
    jwk["y"] = jwk["x"]
    out = validate(tmp_path, jwt_config(tmp_path, json.dumps({"keys": [jwk]})))
    assert "jwt_providers[0].jwks_file" in out and "invalid EC key" in out, out


def test_config_mistakes_are_located(tmp_path, keys):
    good = jwks(keys["ES256"])
    out = validate(tmp_path, jwt_config(tmp_path, good, route_jwt={"provider": "auth"}))
    assert re.search(r'routes\[0\]\.jwt\.provider: unknown JWT provider "auth"; did you mean "auth0"\?', out), out
    out = validate(tmp_path, jwt_config(tmp_path, good, forward_claim={"sub": "x"}))
    assert 'unknown key "forward_claim"; did you mean "forward_claims"?' in out, out
    out = validate(tmp_path, jwt_config(tmp_path, good, forward_claims={"sub": "content-type"}))
    assert 'jwt_providers[0].forward_claims.sub: header "content-type" cannot carry a claim' in out, out
    out = validate(tmp_path, jwt_config(tmp_path, good, cache_size=-1))
    assert "jwt_providers[0].cache_size" in out, out
    out = validate(tmp_path, jwt_config(tmp_path, good, jwks_uri="http://insecure.test/jwks"))
    assert "jwt_providers[0].jwks_uri: jwks_uri must be an https:// URL" in out, out
    out = validate(tmp_path, jwt_config(tmp_path, good, **{"from": [{"header": "x"}]}))
    assert 'unknown key "header"' in out, out


# -- jwks_uri --------------------------------------------------------------------------------------------------


def wait_status(proxy, token: str, status: int, timeout_s: float = 10):
    deadline = time.monotonic() + timeout_s
    r = echo(proxy, token)
    while r.grpc_status != status and time.monotonic() < deadline:
        time.sleep(0.1)
        r = echo(proxy, token)
    return r


def test_jwks_uri_is_fetched_over_https_refreshed_and_kept_on_failure(start_proxy, pki, keys):
    from jwt_support import JWKSServer

    server = JWKSServer(pki, status=503, body="down")
    try:
        p = {"name": "auth0", "issuer": "https://issuer.test/", "audiences": [AUDIENCE], "jwks_uri": server.url,
             "jwks_ca": str(pki.ca.cert), "jwks_refresh": "1s", "forward_claims": {"sub": "x-user-id"}}
        proxy = start_proxy(routes=[default_route(jwt={"provider": "auth0"})], top_extra={"jwt_providers": [p]})
        first, second = keys["ES256"], keys["EdDSA"]
        # No key set yet: 14 (the proxy's state, not the caller's fault), and the fetch failure is logged.
        r = echo(proxy, first.token(), origin=ORIGIN)
        assert r.grpc_status == 14 and r.grpc_message == "JWKS for provider auth0 not loaded yet", (r.grpc_status, r.grpc_message)
        assert proxy.wait_log(r"provider auth0: cannot fetch https://127\.0\.0\.1:\d+/\.well-known/jwks\.json: HTTP status 503",
                              timeout_s=10)
        server.answer = (200, jwks(first))
        assert seen_upstream(wait_status(proxy, first.token(), 0))["x-user-id"] == "user-42"
        assert proxy.wait_log(r"provider auth0: 1 key\(s\) loaded from https://", timeout_s=5)
        # Rotation at the next refresh.
        server.answer = (200, jwks(second))
        assert seen_upstream(wait_status(proxy, second.token(), 0))["x-user-id"] == "user-42"
        r = echo(proxy, first.token())
        assert r.grpc_status == 16 and 'key id "k-es256" unknown' in r.grpc_message, r.grpc_message
        # A broken answer is logged and the keys in use stay.
        server.answer = (200, "{not json")
        requests = server.requests
        assert proxy.wait_log(r"cannot fetch .*JWKS is not valid JSON.*keeping the keys in use", timeout_s=10)
        assert server.requests > requests
        assert seen_upstream(echo(proxy, second.token()))["x-user-id"] == "user-42"
    finally:
        server.close()


def test_an_oversized_jwks_answer_is_refused_and_the_keys_stay(start_proxy, pki, keys):
    """A JWKS server that answers more than 1 MiB (hostile or broken) is cut off at its Content-Length; the keys
    loaded before stay in use."""
    from jwt_support import JWKSServer

    first = keys["ES256"]
    server = JWKSServer(pki, body=jwks(first))
    try:
        p = {"name": "auth0", "issuer": "https://issuer.test/", "audiences": [AUDIENCE], "jwks_uri": server.url,
             "jwks_ca": str(pki.ca.cert), "jwks_refresh": "1s", "forward_claims": {"sub": "x-user-id"}}
        proxy = start_proxy(routes=[default_route(jwt={"provider": "auth0"})], top_extra={"jwt_providers": [p]})
        assert seen_upstream(wait_status(proxy, first.token(), 0))["x-user-id"] == "user-42"
        server.answer = (200, jwks(first)[:-1] + " " * (2 << 20) + "}")
        assert proxy.wait_log(r"cannot fetch .*response larger than 1048576 bytes; keeping the keys in use", timeout_s=10)
        assert seen_upstream(echo(proxy, first.token()))["x-user-id"] == "user-42"
    finally:
        server.close()


def test_jwks_uri_with_an_untrusted_certificate_loads_nothing(start_proxy, pki, keys):
    from jwt_support import JWKSServer

    server = JWKSServer(pki, body=jwks(keys["ES256"]))
    try:
        p = {"name": "auth0", "jwks_uri": server.url, "jwks_refresh": "1s"}  # system trust store: test CA unknown
        proxy = start_proxy(routes=[default_route(jwt={"provider": "auth0"})], top_extra={"jwt_providers": [p]})
        assert proxy.wait_log(r"provider auth0: cannot fetch .*TLS", timeout_s=10), proxy.log_text()[-2000:]
        assert echo(proxy, keys["ES256"].token()).grpc_status == 14
    finally:
        server.close()


def test_rate_limits_keyed_by_a_verified_claim(start_proxy, tmp_path, keys):
    """The rate-limit stage runs after JWT and keys on the verified claims: each user has its own bucket."""
    path = tmp_path / "jwks.json"
    path.write_text(jwks(keys["ES256"]))
    route = default_route(jwt={"provider": "auth0"}, rate_limits=[{"key": {"claim": "sub"}, "rate": "2/m", "burst": 2}])
    proxy = start_proxy(routes=[route], top_extra={"jwt_providers": [provider(path)]})
    alice, bob = keys["ES256"].token({"sub": "alice"}), keys["ES256"].token({"sub": "bob"})
    assert [echo(proxy, alice).grpc_status for _ in range(3)] == [0, 0, 8]
    assert [echo(proxy, bob).grpc_status for _ in range(2)] == [0, 0]
    # A forged claim header does not move a caller to another bucket: the bucket follows the verified token.
    assert echo(proxy, alice, metadata={"x-user-id": "carol", "sub": "carol"}).grpc_status == 8
