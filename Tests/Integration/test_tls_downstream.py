"""Issue 10, downstream TLS: the browser-facing listener speaks HTTPS. Real clients only: curl over HTTPS doing
gRPC-Web calls, openssl s_client for ALPN, SNI and protocol versions, Python ssl for mTLS (with the
x-forwarded-client-cert header the upstream sees) and certificate rotation on SIGHUP, and `--validate` on bad TLS
files. Counters in /metrics are checked where the tests make them move."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess

import pytest

from conftest import build_config, free_port, require_proxy_bin, to_yaml
from tls_certs import CertPair, _signed
from tls_support import HANDSHAKE_FAILURES, HANDSHAKES, STREAM, UNARY, TLSHTTPConnection, assert_call_ok, \
    cert_der, client_context, curl_grpcweb, handshake_done, s_client, served_cert_der, sha256_hex, start_tls_proxy, \
    tls_call, wait_log_count, wait_metric
from tls_support import pki  # noqa: F401  (session fixture: pytest finds fixtures among a test module's names)
from upstream_server import pattern, stream_message
from ws_client import GrpcWsCall


# --------------------------------------------------------------------------------------
# gRPC-Web over HTTPS with curl
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [False, True], ids=["binary", "text"])
def test_curl_unary_over_https(start_proxy, pki, tmp_path, text):
    proxy = start_tls_proxy(start_proxy, pki)
    before = proxy.metric(HANDSHAKES)
    payload = pattern(3000)
    r = curl_grpcweb(proxy.port, pki, UNARY, [payload], text=text, workdir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.status_line.startswith("HTTP/1.1 200"), r.status_line
    assert r.headers["content-type"].startswith("application/grpc-web-text" if text else "application/grpc-web"), \
        r.headers
    assert r.messages == [payload]
    assert r.trailers.get("grpc-status") == "0", r.trailers
    assert wait_metric(proxy, HANDSHAKES, before + 1) >= before + 1, "a completed handshake was not counted"


@pytest.mark.parametrize("text", [False, True], ids=["binary", "text"])
def test_curl_server_stream_arrives_message_by_message(start_proxy, pki, tmp_path, text):
    """Messages 300 ms apart reach curl's output one by one: the first long before the stream ends."""
    proxy = start_tls_proxy(start_proxy, pki)
    r = curl_grpcweb(proxy.port, pki, STREAM, [pattern(32)], text=text, workdir=tmp_path,
                     metadata={"x-stream-count": "4", "x-stream-interval-ms": "300"})
    assert r.returncode == 0, r.stderr
    assert r.status_line.startswith("HTTP/1.1 200"), r.status_line
    assert r.messages == [stream_message(k, 32) for k in range(4)]
    assert r.trailers.get("grpc-status") == "0", r.trailers
    assert r.finished - r.arrivals[0] >= 0.6, \
        f"first message at {r.arrivals[0] - r.started:.2f}s, output ended at {r.finished - r.started:.2f}s"
    gaps = [b - a for a, b in zip(r.arrivals, r.arrivals[1:])]
    assert all(g >= 0.15 for g in gaps), f"messages arrived together over TLS: gaps {gaps}"


def test_keep_alive_connection_carries_several_calls(start_proxy, pki):
    proxy = start_tls_proxy(start_proxy, pki)
    before = proxy.metric(HANDSHAKES)
    with TLSHTTPConnection(proxy.port, client_context(pki)) as conn:
        for i in range(5):
            assert_call_ok(tls_call(proxy, pki, UNARY, [b"call %d" % i], conn=conn), [b"call %d" % i])
        assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")
    assert wait_metric(proxy, HANDSHAKES, before + 1) == before + 1, "five calls on one connection, one handshake"


# --------------------------------------------------------------------------------------
# openssl s_client: ALPN, SNI, versions, ciphers, resumption
# --------------------------------------------------------------------------------------


def test_alpn_prefers_h2_when_http2_is_on(start_proxy, pki):
    """HTTP/2 is on by default (issue 11): a client offering both gets h2."""
    proxy = start_tls_proxy(start_proxy, pki)
    out = s_client(proxy.port, "-alpn", "http/1.1,h2", "-servername", "localhost", ca=pki.ca.cert)
    assert handshake_done(out), out
    assert "ALPN protocol: h2" in out, out
    assert "Verify return code: 0 (ok)" in out, out


def test_alpn_h2_and_http11_offered_selects_http11_with_http2_off(start_proxy, pki):
    proxy = start_tls_proxy(start_proxy, pki, listener_extra={"http2": False})
    out = s_client(proxy.port, "-alpn", "h2,http/1.1", "-servername", "localhost", ca=pki.ca.cert)
    assert handshake_done(out), out
    assert "ALPN protocol: http/1.1" in out, out
    assert "Verify return code: 0 (ok)" in out, out


def test_alpn_h2_only_still_connects_without_alpn_with_http2_off(start_proxy, pki):
    """A listener with `http2: false` and a client offering only h2: a connection without ALPN (HTTP/1.1)."""
    proxy = start_tls_proxy(start_proxy, pki, listener_extra={"http2": False})
    out = s_client(proxy.port, "-alpn", "h2", "-servername", "localhost", ca=pki.ca.cert)
    assert handshake_done(out), out
    assert "No ALPN negotiated" in out, out


@pytest.mark.parametrize("servername, expected", [
    ("b.example.test", "sni"),
    ("x.wild.example.test", "sni"),
    ("localhost", "server"),
    ("unknown.example.test", "server"),
    (None, "server"),
], ids=["sni-name", "sni-wildcard", "localhost", "unknown-name", "no-sni"])
def test_sni_selects_the_certificate(start_proxy, pki, servername, expected):
    proxy = start_tls_proxy(start_proxy, pki, certificates=[pki.sni])
    args = ["-servername", servername] if servername else ["-noservername"]
    out = s_client(proxy.port, *args, ca=pki.ca.cert)
    assert handshake_done(out), out
    want = getattr(pki, expected).cert
    assert served_cert_der(out) == cert_der(want), f"SNI {servername!r} should get {want.name}:\n{out}"


def test_tls13_handshake(start_proxy, pki):
    proxy = start_tls_proxy(start_proxy, pki)
    out = s_client(proxy.port, "-tls1_3", "-servername", "localhost", ca=pki.ca.cert)
    assert re.search(r"^New, TLSv1\.3, Cipher is TLS_", out, re.M), out
    assert "Verify return code: 0 (ok)" in out, out


def test_tls12_uses_ecdhe_with_an_aead_cipher(start_proxy, pki):
    proxy = start_tls_proxy(start_proxy, pki)
    out = s_client(proxy.port, "-tls1_2", "-servername", "localhost", ca=pki.ca.cert)
    m = re.search(r"^New, TLSv1\.2, Cipher is (\S+)", out, re.M)
    assert m, out
    assert re.fullmatch(r"ECDHE-\w+-(AES\d+-GCM-SHA\d+|CHACHA20-POLY1305)", m.group(1)), m.group(1)


def test_tls12_cbc_cipher_refused(start_proxy, pki):
    """A TLS 1.2 client offering only a CBC suite (no AEAD) gets no connection."""
    proxy = start_tls_proxy(start_proxy, pki)
    out = s_client(proxy.port, "-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA", "-servername", "localhost",
                   ca=pki.ca.cert)
    assert not handshake_done(out), out
    assert "alert handshake failure" in out, out


# SECLEVEL=0 lets our own client offer TLS 1.0/1.1 (OpenSSL 3 refuses them locally at the default level); the
# refusal checked is then the proxy's protocol_version alert.
OLD_CLIENT = ["-cipher", "DEFAULT@SECLEVEL=0"]


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_tls10_and_tls11_refused(start_proxy, pki, version):
    proxy = start_tls_proxy(start_proxy, pki)
    handshakes, failures = proxy.metric(HANDSHAKES), proxy.metric(HANDSHAKE_FAILURES)
    out = s_client(proxy.port, version, *OLD_CLIENT, "-servername", "localhost", ca=pki.ca.cert)
    assert not handshake_done(out), out
    assert "alert protocol version" in out, out
    assert wait_metric(proxy, HANDSHAKE_FAILURES, failures + 1) >= failures + 1, "refused handshake not counted"
    assert proxy.metric(HANDSHAKES) == handshakes


def test_min_version_13_refuses_tls12(start_proxy, pki):
    proxy = start_tls_proxy(start_proxy, pki, min_version="1.3")
    out = s_client(proxy.port, "-tls1_2", "-servername", "localhost", ca=pki.ca.cert)
    assert not handshake_done(out), out
    assert "alert protocol version" in out, out
    out = s_client(proxy.port, "-tls1_3", "-servername", "localhost", ca=pki.ca.cert)
    assert re.search(r"^New, TLSv1\.3, ", out, re.M), out


def test_session_ticket_resumes_the_session(start_proxy, pki, tmp_path):
    proxy = start_tls_proxy(start_proxy, pki)
    session = tmp_path / "session.pem"
    # The request keeps s_client reading until the proxy closes, so it receives the TLS 1.3 ticket.
    request = b"GET /nothing HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    first = s_client(proxy.port, "-servername", "localhost", "-ign_eof", "-sess_out", str(session),
                     ca=pki.ca.cert, stdin=request)
    assert handshake_done(first), first
    assert session.exists() and session.stat().st_size > 0, first
    second = s_client(proxy.port, "-servername", "localhost", "-ign_eof", "-sess_in", str(session),
                      ca=pki.ca.cert, stdin=request)
    assert re.search(r"^Reused, TLSv1\.[23], ", second, re.M), second


def test_tls12_client_renegotiation_refused(start_proxy, pki):
    """s_client's "R" asks for a renegotiation; the proxy answers no_renegotiation and keeps serving others."""
    proxy = start_tls_proxy(start_proxy, pki)
    out = s_client(proxy.port, "-tls1_2", "-servername", "localhost", ca=pki.ca.cert, stdin=b"R\n")
    assert handshake_done(out) and "RENEGOTIATING" in out, out
    assert "no renegotiation" in out, out
    assert_call_ok(tls_call(proxy, pki, UNARY, [b"after"]), [b"after"])


def test_wss_bidi_over_tls(start_proxy, pki, monkeypatch):
    """The WebSocket transport on the TLS listener (wss://): a bidi call echoes message by message."""
    proxy = start_tls_proxy(start_proxy, pki)
    # The websockets client builds its context with ssl.create_default_context(), which reads SSL_CERT_FILE.
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca.cert))
    ws = GrpcWsCall(f"https://localhost:{proxy.port}", "/test.Echo/Bidi")
    for i in range(3):
        ws.send(b"wss %d" % i)
        assert ws.recv_message(timeout=5) == b"wss %d" % i
    ws.half_close()
    r = ws.finish(timeout=10)
    assert r.grpc_status == 0 and r.close_code == 1000, (r.trailers, r.close_code)


# --------------------------------------------------------------------------------------
# mTLS and x-forwarded-client-cert
# --------------------------------------------------------------------------------------

XFCC = "x-forwarded-client-cert"
FORGED_XFCC = 'Hash=0000;Subject="CN=admin";URI=spiffe://test/admin'


def xfcc_fields(value: str) -> list[tuple[str, str]]:
    """Envoy's XFCC element as (key, value) pairs in order; quoted values unquoted."""
    out = []
    for m in re.finditer(r'(\w+)=("(?:[^"\\]|\\.)*"|[^;,]*)[;]?', value):
        v = m.group(2)
        if v.startswith('"'):
            v = re.sub(r"\\(.)", r"\1", v[1:-1])
        out.append((m.group(1), v))
    return out


def rfc2253_subject(cert) -> str:
    out = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-subject", "-nameopt", "RFC2253"],
                         capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    return out.removeprefix("subject=")


def upstream_metadata(proxy, pki, client_cert, extra=None) -> dict:
    """The request metadata the upstream saw for one unary call over TLS (the upstream echoes it as JSON)."""
    md = [("x-echo-metadata", "1")] + list(extra or [])
    r = tls_call(proxy, pki, UNARY, [b""], client_cert=client_cert, metadata=md)
    assert_call_ok(r)
    return json.loads(r.messages[0])


def curl_refused(proxy, pki, tmp_path, client_cert=None):
    r = curl_grpcweb(proxy.port, pki, UNARY, [b"refused?"], client_cert=client_cert, workdir=tmp_path)
    assert r.returncode != 0 and not r.messages, f"curl got through: rc={r.returncode} {r.status_line} {r.stderr}"
    return r


def test_required_client_cert_refuses_clients_without_one(start_proxy, pki, upstream, tmp_path):
    proxy = start_tls_proxy(start_proxy, pki, client_ca=pki.ca.cert, require_client_cert=True)
    failures = proxy.metric(HANDSHAKE_FAILURES)
    upstream.reset_stats()
    curl_refused(proxy, pki, tmp_path)
    # A certificate from a CA the listener does not trust fails the handshake too.
    curl_refused(proxy, pki, tmp_path, client_cert=pki.other_server)
    assert upstream.stats()["received"].get(UNARY, 0) == 0, "a refused client's call reached the upstream"
    assert wait_metric(proxy, HANDSHAKE_FAILURES, failures + 2) >= failures + 2

    r = curl_grpcweb(proxy.port, pki, UNARY, [b"with cert"], client_cert=pki.client, workdir=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.messages == [b"with cert"] and r.trailers.get("grpc-status") == "0", (r.messages, r.trailers)
    assert upstream.stats()["received"].get(UNARY, 0) == 1


def test_verified_client_cert_is_forwarded_as_xfcc(start_proxy, pki):
    proxy = start_tls_proxy(start_proxy, pki, client_ca=pki.ca.cert, require_client_cert=True)
    md = upstream_metadata(proxy, pki, pki.client)
    assert isinstance(md.get(XFCC), str), md
    fields = xfcc_fields(md[XFCC])
    keys = [k for k, _ in fields]
    assert keys == ["Hash", "Subject", "URI", "DNS"], md[XFCC]
    got = dict(fields)
    assert got["Hash"] == sha256_hex(cert_der(pki.client.cert)), md[XFCC]
    assert got["Subject"] == rfc2253_subject(pki.client.cert), md[XFCC]
    assert "CN=browser-1" in got["Subject"], md[XFCC]
    assert got["URI"] == "spiffe://test/browser-1", md[XFCC]
    assert got["DNS"] == "client.example.test", md[XFCC]


def test_xfcc_has_the_first_uri_and_every_dns_san(start_proxy, pki, tmp_path):
    multi = _signed(tmp_path, pki.ca, "multi-san", "/CN=browser-2",
                    "URI:spiffe://test/browser-2,URI:spiffe://test/second,DNS:a.client.test,DNS:b.client.test",
                    "clientAuth")
    proxy = start_tls_proxy(start_proxy, pki, client_ca=pki.ca.cert, require_client_cert=True)
    md = upstream_metadata(proxy, pki, multi)
    assert xfcc_fields(md[XFCC]) == [("Hash", sha256_hex(cert_der(multi.cert))), ("Subject", "CN=browser-2"),
                                     ("URI", "spiffe://test/browser-2"), ("DNS", "a.client.test"),
                                     ("DNS", "b.client.test")], md[XFCC]


@pytest.mark.parametrize("with_cert", [True, False], ids=["with-client-cert", "without-client-cert"])
def test_client_sent_xfcc_never_reaches_upstream(start_proxy, pki, with_cert):
    """Optional client certificates: whatever the client claims in x-forwarded-client-cert is dropped; only the
    proxy's own value (for a verified certificate) goes upstream."""
    proxy = start_tls_proxy(start_proxy, pki, client_ca=pki.ca.cert, require_client_cert=False)
    md = upstream_metadata(proxy, pki, pki.client if with_cert else None, [(XFCC, FORGED_XFCC)])
    if with_cert:
        assert isinstance(md.get(XFCC), str), f"forged and real XFCC both forwarded, or none: {md.get(XFCC)!r}"
        assert dict(xfcc_fields(md[XFCC]))["Hash"] == sha256_hex(cert_der(pki.client.cert)), md[XFCC]
        assert "admin" not in md[XFCC], md[XFCC]
    else:
        assert XFCC not in md, f"client-sent XFCC reached the upstream: {md[XFCC]!r}"


def test_client_sent_xfcc_dropped_on_a_listener_without_client_ca(start_proxy, pki):
    proxy = start_tls_proxy(start_proxy, pki)
    md = upstream_metadata(proxy, pki, None, [(XFCC, FORGED_XFCC)])
    assert XFCC not in md, f"client-sent XFCC reached the upstream: {md[XFCC]!r}"


# --------------------------------------------------------------------------------------
# Rotation on SIGHUP
# --------------------------------------------------------------------------------------

RELOADED = r"TLS files reloaded"


def replace_file(src, dst) -> None:
    """Atomic replacement, as cert-manager and certbot do it (write aside, rename over)."""
    tmp = dst.with_name(dst.name + ".new")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def test_sighup_rotates_certificate_and_keeps_open_connections(start_proxy, pki, tmp_path):
    live = CertPair(tmp_path / "live.pem", tmp_path / "live.key")
    shutil.copyfile(pki.server.cert, live.cert)
    shutil.copyfile(pki.server.key, live.key)
    rotated = _signed(tmp_path, pki.ca, "rotated", "/CN=localhost (rotated)", "DNS:localhost,IP:127.0.0.1",
                      "serverAuth")
    proxy = start_tls_proxy(start_proxy, pki, cert=live)
    ctx = client_context(pki)

    old = TLSHTTPConnection(proxy.port, ctx)
    assert old.peer_cert_der() == cert_der(pki.server.cert)
    assert_call_ok(tls_call(proxy, pki, UNARY, [b"before"], conn=old), [b"before"])

    replace_file(rotated.key, live.key)
    replace_file(rotated.cert, live.cert)
    proxy.proc.send_signal(signal.SIGHUP)
    assert wait_log_count(proxy, RELOADED, 1) == 1, "no reload log line after SIGHUP"

    with TLSHTTPConnection(proxy.port, ctx) as new:
        assert new.peer_cert_der() == cert_der(rotated.cert), "a new connection still gets the old certificate"
        assert_call_ok(tls_call(proxy, pki, UNARY, [b"new"], conn=new), [b"new"])
    # The keep-alive connection from before the reload is untouched.
    assert_call_ok(tls_call(proxy, pki, UNARY, [b"old after reload"], conn=old), [b"old after reload"])
    old.close()

    # Broken files: the reload fails with a located error and the last good certificate stays in use.
    live.cert.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
    proxy.proc.send_signal(signal.SIGHUP)
    located = re.escape(proxy.config_path.name) + r":\d+:\d+: listeners\[0\]\.tls\.cert: \S"
    assert wait_log_count(proxy, located, 1) >= 1, "no located error after a SIGHUP with a broken certificate"
    assert wait_log_count(proxy, RELOADED, 2, timeout_s=0.5) == 1, "broken files reported as reloaded"
    with TLSHTTPConnection(proxy.port, ctx) as after:
        assert after.peer_cert_der() == cert_der(rotated.cert)
        assert_call_ok(tls_call(proxy, pki, UNARY, [b"still"], conn=after), [b"still"])
    assert proxy.alive()


def test_sighup_rereads_the_client_ca(start_proxy, pki, tmp_path):
    """A rotated client CA bundle applies to new handshakes: before, the client's certificate (from the test CA)
    is refused; after replacing the bundle and SIGHUP, it is accepted."""
    bundle = tmp_path / "clients-ca.pem"
    shutil.copyfile(pki.other_ca.cert, bundle)
    proxy = start_tls_proxy(start_proxy, pki, client_ca=bundle, require_client_cert=True)
    curl_refused(proxy, pki, tmp_path, client_cert=pki.client)
    replace_file(pki.ca.cert, bundle)
    proxy.proc.send_signal(signal.SIGHUP)
    assert wait_log_count(proxy, RELOADED, 1) == 1, "no reload log line after SIGHUP"
    md = upstream_metadata(proxy, pki, pki.client)
    assert dict(xfcc_fields(md[XFCC]))["Hash"] == sha256_hex(cert_der(pki.client.cert)), md


# --------------------------------------------------------------------------------------
# --validate (and start) on bad TLS files
# --------------------------------------------------------------------------------------


def tls_config_file(tmp_path, pki, **tls) -> tuple:
    """A config file whose TLS paths are relative to its directory (certs/…); returns (path, text)."""
    certs = tmp_path / "certs"
    certs.mkdir(exist_ok=True)
    for pair in (pki.server, pki.sni, pki.expired, pki.ca):
        shutil.copyfile(pair.cert, certs / pair.cert.name)
        shutil.copyfile(pair.key, certs / pair.key.name)
    (certs / "garbage-ca.pem").write_text("this is not a PEM file\n")
    section = {"cert": "certs/server.pem", "key": "certs/server.key", **tls}
    config = build_config(port=free_port(), admin_port=free_port(), upstream_port=50051,
                          listener_extra={"tls": section})
    path = tmp_path / "proxy.yaml"
    text = to_yaml(config) + "\n"
    path.write_text(text)
    return path, text


def run_proxy(*args, timeout_s: float = 10) -> subprocess.CompletedProcess:
    return subprocess.run([str(require_proxy_bin()), *args], capture_output=True, text=True, timeout=timeout_s,
                          stdin=subprocess.DEVNULL)


def test_validate_accepts_relative_tls_paths(tmp_path, pki):
    path, _ = tls_config_file(tmp_path, pki, certificates=[{"cert": "certs/sni.pem", "key": "certs/sni.key"}],
                              client_ca="certs/ca.pem", require_client_cert=True, min_version="1.3",
                              handshake_timeout="5s")
    r = run_proxy("--validate", "--config", str(path))
    assert r.returncode == 0, r.stdout + r.stderr


BAD_TLS = {
    "missing-cert": ({"cert": "certs/missing.pem"}, "listeners[0].tls.cert", "certs/missing.pem",
                     r"(?i)no such file|not found|does not exist|(cannot|could not|unable to) (open|read)"),
    "key-mismatch": ({"key": "certs/sni.key"}, "listeners[0].tls.key", "certs/sni.key",
                     r"(?i)mismatch|does not match|doesn't match"),
    "sni-key-mismatch": ({"certificates": [{"cert": "certs/sni.pem", "key": "certs/server.key"}]},
                         "listeners[0].tls.certificates[0].key", "certs/server.key",
                         r"(?i)mismatch|does not match|doesn't match"),
    "expired": ({"cert": "certs/expired.pem", "key": "certs/expired.key"}, "listeners[0].tls.cert",
                "certs/expired.pem", r"certificate expired"),
    "unreadable-ca": ({"client_ca": "certs/garbage-ca.pem"}, "listeners[0].tls.client_ca", "certs/garbage-ca.pem",
                      r"(?i)certificate|PEM"),
}


def value_position(text: str, value: str, occurrence: int = -1) -> tuple[int, set[int]]:
    """(line, {key column, value column}) of the YAML line holding ``value`` (1-based)."""
    lines = [i for i, line in enumerate(text.splitlines()) if line.rstrip().endswith(value)]
    assert lines, value
    i = lines[occurrence]
    line = text.splitlines()[i]
    key_col = len(line) - len(line.lstrip(" -")) + 1
    return i + 1, {key_col, line.rindex(value) + 1}


@pytest.mark.parametrize("mode", ["--validate", "start"])
@pytest.mark.parametrize("case", list(BAD_TLS))
def test_bad_tls_files_fail_with_a_located_reason(tmp_path, pki, case, mode):
    tls, key_path, value, reason = BAD_TLS[case]
    path, text = tls_config_file(tmp_path, pki, **tls)
    args = ["--config", str(path)] + (["--validate"] if mode == "--validate" else [])
    try:
        r = run_proxy(*args)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the proxy started (or hung) with {case}")
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    m = re.search(r"(\S*" + re.escape(path.name) + r"):(\d+):(\d+): " + re.escape(key_path) + r": (.+)", out)
    assert m, f"no 'file:line:column: {key_path}: reason' in:\n{out}"
    line, columns = value_position(text, value)
    assert int(m.group(2)) == line, f"reported line {m.group(2)}, {value} is on line {line}:\n{out}"
    assert int(m.group(3)) in columns, f"reported column {m.group(3)}, expected one of {columns}:\n{out}"
    assert re.search(reason, m.group(4)), f"reason {m.group(4)!r} does not match {reason!r}"
