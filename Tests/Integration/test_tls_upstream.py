"""Upstream TLS (issue 10, part 3): clusters with a `tls:` section talk TLS (ALPN h2) to their endpoints.

The upstream is the real grpcio server (`upstream_server.py --tls-cert ...`, i.e. `grpc.ssl_server_credentials`),
with and without `require_client_auth`. The proxy's listener stays cleartext here; browsers over HTTPS are in
test_browser_tls.py. Every failure must end the call with UNAVAILABLE (14) and say why in grpc-message
(`certificate verify failed: <OpenSSL's verify error>`, `no h2 in ALPN`, `TLS handshake timeout`), and be counted
in `grpcwebproxy_upstream_tls_handshake_failures_total`.

Peers that grpcio cannot play (TLS without h2 in ALPN, a server that never answers the ClientHello) are tiny
Python servers in this file. Certificates come from tls_certs.make_test_pki (openssl at test time).
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
import time

import pytest

from cluster_support import health_checks_seen, hosts_file, wait_until
from conftest import cluster, default_route
from grpcweb_client import call
from tls_certs import make_test_pki
from ws_client import GrpcWsCall

pytestmark = pytest.mark.timeout(30)

UNARY = "/test.Echo/Unary"
STREAM = "/test.Echo/ServerStream"
BIDI = "/test.Echo/Bidi"
FAILURES = "grpcwebproxy_upstream_tls_handshake_failures_total"
VERIFY_DISABLED = "grpcwebproxy_upstream_tls_verify_disabled"
FAST_CHECKS = {"interval": "200ms", "timeout": "500ms", "unhealthy_threshold": 2, "healthy_threshold": 1}


# --- fixtures -------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_test_pki(tmp_path_factory.mktemp("tls-upstream-pki"))


@pytest.fixture
def tls_upstream(upstream_factory, pki):
    """``tls_upstream(server_id, pair=pki.server, client_auth=False)``: a grpcio TLS upstream. With
    ``client_auth`` it requires a client certificate from the test CA (the test's own control channel presents
    ``pki.client``)."""
    def factory(server_id: str = "tls1", pair=None, client_auth: bool = False):
        pair = pair or pki.server
        # The control channel must trust whichever CA signed the server certificate.
        control_ca = pki.other_ca.cert if pair == pki.other_server else pki.ca.cert
        kw = dict(tls_cert=pair.cert, tls_key=pair.key, control_ca=control_ca)
        if client_auth:
            kw.update(client_ca=pki.ca.cert, require_client_auth=True, control_cert=pki.client.cert,
                      control_key=pki.client.key)
        return upstream_factory(server_id, **kw)
    return factory


@pytest.fixture
def localhost_override(itest_workdir):
    """`localhost` resolves to 127.0.0.1 only (never ::1, where nothing listens), through the test-only hosts
    override; pass the returned arguments as ``extra_args`` to start_proxy."""
    path = hosts_file(itest_workdir / "tls-upstream-hosts", {"localhost": ["127.0.0.1"]})
    return ["--test-hosts", str(path)]


def tls_cluster(endpoint: str, name: str = "backend", **tls) -> dict:
    return cluster(name, endpoint, tls=tls)


def start_tls_proxy(start_proxy, endpoint: str, tls: dict, *, extra_args=None, connect_timeout: str = "1s",
                    **cluster_kw):
    return start_proxy(clusters=[cluster("backend", endpoint, connect_timeout=connect_timeout, tls=tls,
                                         **cluster_kw)], extra_args=extra_args)


def peer_seen(base_url: str) -> dict:
    """What the upstream's TLS layer knew about the proxy (x-echo-peer: its client certificate, if any)."""
    r = call(base_url, UNARY, [b"who"], metadata={"x-echo-peer": "1"}, timeout_s=10)
    assert r.grpc_status == 0, (r.grpc_status, r.grpc_message)
    return json.loads(r.messages[0])


def assert_unary_and_stream_work(base_url: str, server_id: str) -> None:
    r = call(base_url, UNARY, [b"hello over tls"], timeout_s=10)
    assert r.grpc_status == 0, (r.grpc_status, r.grpc_message)
    assert r.messages == [b"hello over tls"]
    assert r.headers.get("x-server-id") == server_id, r.headers

    r = call(base_url, STREAM, [b"go"], metadata={"x-stream-count": "4", "x-stream-size": "1000"}, timeout_s=10)
    assert r.grpc_status == 0, (r.grpc_status, r.grpc_message)
    assert [m[:4] for m in r.messages] == [k.to_bytes(4, "big") for k in range(4)]
    assert all(len(m) == 1000 for m in r.messages)


def assert_failures_counted(proxy, before: int, n: int) -> None:
    assert wait_until(lambda: proxy.metric(FAILURES) >= before + n, 2), \
        f"{FAILURES} is {proxy.metric(FAILURES)}, expected at least {before + n} after {n} failed handshake(s)"


def failed_call(proxy, fragment: str, *, timeout_s: float = 10):
    """One unary call that must fail with UNAVAILABLE and `fragment` in grpc-message, and be counted as an
    upstream TLS handshake failure. Returns (result, seconds the call took)."""
    before = proxy.metric(FAILURES)
    t0 = time.monotonic()
    r = call(proxy.base_url, UNARY, [b"x"], timeout_s=timeout_s)
    took = time.monotonic() - t0
    assert r.grpc_status == 14, (r.grpc_status, r.grpc_message)
    assert fragment in (r.grpc_message or ""), r.grpc_message
    assert_failures_counted(proxy, before, 1)
    return r, took


# --- small TLS peers grpcio cannot play -----------------------------------------------------------------------

class TinyServer:
    """A listener on 127.0.0.1 served by one thread: `handle(sock)` per accepted connection. Keeps every accepted
    socket until `close()`."""

    def __init__(self, handle) -> None:
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.accepted = 0
        self._handle = handle
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tiny-tls-server", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except (socket.timeout, OSError):
                continue
            self.accepted += 1
            self._held.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self._handle(conn)
        except (OSError, ssl.SSLError):
            pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        for s in self._held:
            try:
                s.close()
            except OSError:
                pass
        self.listener.close()


@pytest.fixture
def tiny_servers():
    started: list[TinyServer] = []

    def factory(handle) -> TinyServer:
        s = TinyServer(handle)
        started.append(s)
        return s

    yield factory
    for s in started:
        s.close()


def tls_without_h2(pki, alpn: list[str] | None):
    """A handler that completes a TLS handshake offering only `alpn` (None: no ALPN extension at all), then waits
    for the peer to close (at most 10 s)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.server.cert, pki.server.key)
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)

    def handle(conn: socket.socket) -> None:
        conn.settimeout(10)
        with ctx.wrap_socket(conn, server_side=True) as tls:
            while tls.recv(4096):
                pass

    return handle


def requiring_client_certificate(pki, *, abrupt: bool):
    """A handler for an h2 TLS server that requires a client certificate the way OpenSSL servers do: a client
    without one gets an alert (`certificate required` in TLS 1.3), sent after the client's Finished, when the client
    already considers the handshake done and may have sent its first records.

    `abrupt`: close at once, as nginx and most servers do; the client's unread records turn the close into a RST
    that follows the alert. Otherwise send FIN after the alert and read until the client hangs up."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.server.cert, pki.server.key)
    ctx.load_verify_locations(pki.ca.cert)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.set_alpn_protocols(["h2"])

    def handle(conn: socket.socket) -> None:
        conn.settimeout(10)
        tls = ctx.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        try:
            tls.do_handshake()
        except ssl.SSLError:
            if abrupt:
                tls.close()
                return
            tls.shutdown(socket.SHUT_WR)
        while tls.recv(4096):
            pass
        tls.close()

    return handle


def silent(conn: socket.socket) -> None:
    """Accepts the TCP connection and never reads or answers the ClientHello (held open by TinyServer)."""


# --- calls over TLS -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_unary_and_stream_over_tls(start_proxy, tls_upstream, pki, localhost_override, host):
    """127.0.0.1 is verified against the certificate's IP SAN, `localhost` against its DNS SAN (server_name
    defaults to the endpoint's host)."""
    u = tls_upstream("tls-ok")
    p = start_tls_proxy(start_proxy, f"{host}:{u.port}", {"ca": str(pki.ca.cert)}, extra_args=localhost_override)
    assert_unary_and_stream_work(p.base_url, "tls-ok")
    assert peer_seen(p.base_url).get("transport_security_type") == ["ssl"]
    assert p.metric(VERIFY_DISABLED) == 0
    assert p.metric(FAILURES) == 0


def test_mutual_tls_presents_the_client_certificate(start_proxy, tls_upstream, pki):
    u = tls_upstream("mtls", client_auth=True)
    p = start_tls_proxy(start_proxy, u.address,
                        {"ca": str(pki.ca.cert), "cert": str(pki.client.cert), "key": str(pki.client.key)})
    assert_unary_and_stream_work(p.base_url, "mtls")
    peer = peer_seen(p.base_url)
    assert peer.get("x509_common_name") == ["browser-1"], peer
    assert "spiffe://test/browser-1" in peer.get("x509_subject_alternative_name", []), peer


def test_missing_client_certificate_is_unavailable_with_reason(start_proxy, tls_upstream, pki):
    """grpcio (BoringSSL) refuses a client without a certificate by closing the connection, without an alert; in
    TLS 1.3 that comes after the client's side of the handshake is done. The proxy knows the server asked for a
    certificate (CertificateRequest) and it had none to give: that is the reason the caller needs."""
    u = tls_upstream("mtls-strict", client_auth=True)
    p = start_tls_proxy(start_proxy, u.address, {"ca": str(pki.ca.cert)})
    r = call(p.base_url, UNARY, [b"x"], timeout_s=10)
    assert r.grpc_status == 14, (r.grpc_status, r.grpc_message)
    assert "certificate" in (r.grpc_message or "").lower(), r.grpc_message
    assert u.stats()["calls"].get(UNARY, 0) == 0, "the call reached the server without a client certificate"
    assert_failures_counted(p, 0, 1)


@pytest.mark.parametrize("abrupt", [False, True], ids=["fin-after-alert", "rst-after-alert"])
def test_server_alert_for_a_missing_client_certificate_is_the_reason(start_proxy, tiny_servers, pki, abrupt):
    """OpenSSL servers answer a client without a certificate with an alert; its text must reach the caller, also
    when the server's close turns into a RST right behind the alert (the proxy's first write then fails, while
    the alert waits in the receive buffer). Five calls, each on a new connection, so a race shows."""
    s = tiny_servers(requiring_client_certificate(pki, abrupt=abrupt))
    p = start_tls_proxy(start_proxy, s.address, {"ca": str(pki.ca.cert)})
    results = [call(p.base_url, UNARY, [b"x"], timeout_s=10) for _ in range(5)]
    assert all(r.grpc_status == 14 for r in results), [(r.grpc_status, r.grpc_message) for r in results]
    messages = [r.grpc_message for r in results]
    assert all("certificate required" in (m or "") for m in messages), messages
    assert s.accepted >= 5
    assert_failures_counted(p, 0, 5)


# --- verification failures ------------------------------------------------------------------------------------

def test_wrong_server_name_is_a_verify_failure(start_proxy, tls_upstream, pki):
    u = tls_upstream("tls-name")
    p = start_tls_proxy(start_proxy, u.address, {"ca": str(pki.ca.cert), "server_name": "other.example.test"})
    r, _ = failed_call(p, "certificate verify failed")
    assert "hostname mismatch" in r.grpc_message, r.grpc_message
    assert u.stats()["calls"].get(UNARY, 0) == 0


def test_ip_endpoint_is_verified_against_ip_sans(start_proxy, tls_upstream, pki):
    """A certificate valid only for other.example.test, reached at 127.0.0.1: the IP is not in its SANs."""
    u = tls_upstream("tls-wrong-ip", pair=pki.wrong_name)
    p = start_tls_proxy(start_proxy, u.address, {"ca": str(pki.ca.cert)})
    r, _ = failed_call(p, "certificate verify failed")
    assert "mismatch" in r.grpc_message, r.grpc_message


def test_unknown_ca_is_a_verify_failure(start_proxy, tls_upstream, pki):
    u = tls_upstream("tls-other-ca", pair=pki.other_server)
    p = start_tls_proxy(start_proxy, u.address, {"ca": str(pki.ca.cert)})
    r, _ = failed_call(p, "certificate verify failed")
    assert "unable to get local issuer certificate" in r.grpc_message, r.grpc_message
    assert u.stats()["calls"].get(UNARY, 0) == 0
    # ...and per endpoint, once the connection has closed.
    series = f'grpcwebproxy_upstream_tls_handshake_failures_by_endpoint_total{{cluster="backend",endpoint="{u.address}"}}'
    assert wait_until(lambda: p.metric(series) >= 1, 2), p.admin_get("/metrics")[1]


def test_empty_tls_section_uses_the_system_trust_store(start_proxy, tls_upstream):
    """`tls: {}`: TLS with the system CAs, which do not include the test CA."""
    u = tls_upstream("tls-system")
    p = start_tls_proxy(start_proxy, u.address, {})
    failed_call(p, "certificate verify failed")


def test_verify_false_accepts_an_unknown_ca_with_a_warning(start_proxy, tls_upstream, pki):
    u = tls_upstream("tls-unverified", pair=pki.other_server)
    p = start_proxy(clusters=[cluster("unverified", u.address, tls={"ca": str(pki.ca.cert), "verify": False})],
                    routes=[default_route("unverified")])
    assert_unary_and_stream_work(p.base_url, "tls-unverified")
    assert p.metric(VERIFY_DISABLED) == 1
    warning = p.wait_log(r"(?m)^\S+ warn \[[^\]]+\] .*verif.*$", 2)
    assert warning, p.log_text()[-3000:]
    assert "unverified" in warning.group(0), f"the warning does not name the cluster: {warning.group(0)}"


# --- peers that are not usable gRPC servers -------------------------------------------------------------------

@pytest.mark.parametrize("alpn", [["http/1.1"], None], ids=["http1-only", "no-alpn"])
def test_server_without_h2_in_alpn_is_refused(start_proxy, tiny_servers, pki, alpn):
    s = tiny_servers(tls_without_h2(pki, alpn))
    p = start_tls_proxy(start_proxy, s.address, {"ca": str(pki.ca.cert)})
    failed_call(p, "no h2 in ALPN")
    assert s.accepted >= 1


def test_server_that_never_answers_the_handshake_times_out(start_proxy, tiny_servers, pki):
    s = tiny_servers(silent)
    p = start_tls_proxy(start_proxy, s.address, {"ca": str(pki.ca.cert)}, connect_timeout="1s")
    r, took = failed_call(p, "handshake timeout", timeout_s=15)
    assert s.accepted >= 1, "the proxy never connected"
    # The TCP connect succeeds at once; the handshake then gets the connect budget (1 s), not the call's.
    assert 0.8 <= took < 5, took


# --- health checks and WebSockets over TLS --------------------------------------------------------------------

def test_health_checks_use_the_cluster_tls(start_proxy, tls_upstream, pki):
    """The checker connects with the cluster's TLS settings, client certificate included (the server requires
    one): checks reach the server, and NOT_SERVING / SERVING answers move the endpoint out and back in."""
    u = tls_upstream("tls-health", client_auth=True)
    p = start_tls_proxy(start_proxy, u.address,
                        {"ca": str(pki.ca.cert), "cert": str(pki.client.cert), "key": str(pki.client.key)},
                        health_check=FAST_CHECKS)
    assert wait_until(lambda: health_checks_seen(u) >= 2, 5), "no health check reached the TLS upstream"
    u.set_health(False)
    assert p.wait_log(rf"{re.escape(u.address)} is unhealthy", 5), p.log_text()[-3000:]
    r = call(p.base_url, UNARY, [b"x"], timeout_s=10)
    assert r.grpc_status == 14 and "no healthy endpoint" in (r.grpc_message or ""), (r.grpc_status, r.grpc_message)
    u.set_health(True)
    assert p.wait_log(rf"{re.escape(u.address)} is healthy again", 5), p.log_text()[-3000:]
    assert_unary_and_stream_work(p.base_url, "tls-health")


def test_health_checks_report_tls_verify_failures(start_proxy, tls_upstream, pki):
    """A server whose certificate does not verify never becomes healthy, and the log says why."""
    u = tls_upstream("tls-health-bad", pair=pki.other_server)
    p = start_tls_proxy(start_proxy, u.address, {"ca": str(pki.ca.cert)}, health_check=FAST_CHECKS)
    m = p.wait_log(rf"{re.escape(u.address)} is unhealthy[^\n]*", 5)
    assert m, p.log_text()[-3000:]
    assert "certificate verify failed" in m.group(0), m.group(0)
    assert health_checks_seen(u) == 0


def test_websocket_bidi_over_a_tls_cluster(start_proxy, tls_upstream, pki):
    u = tls_upstream("tls-ws")
    p = start_tls_proxy(start_proxy, u.address, {"ca": str(pki.ca.cert)})
    ws = GrpcWsCall(p.base_url, BIDI, {"x-custom": "ws-over-tls"})
    assert ws.subprotocol == "grpc-websockets"
    for i in range(10):
        msg = bytes((i * 13 + j) % 256 for j in range(1 + i * 700))
        ws.send(msg)
        assert ws.recv_message(timeout=5) == msg, f"round {i}"
    ws.half_close()
    r = ws.finish(timeout=10)
    assert r.grpc_status == 0, (r.trailers, r.close_code)
    assert r.close_code == 1000
    assert r.headers is not None and r.headers.get("x-server-id") == "tls-ws", r.headers
