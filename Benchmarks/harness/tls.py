"""TLS for the benchmark's TLS rows: the shared certificate, the client context, handshake counters.

Both proxies terminate TLS with the same ECDSA P-256 certificate, made here with the `openssl`
command into the work directory (Benchmarks/.work/tls/, never committed) and reused while valid.
Clients do not verify it (wrk cannot either): both proxies then face exactly the same client, and
a TLS 1.3 client still checks the server's CertificateVerify signature, so the handshake's cost
on either side is the full one.
"""
import os
import re
import ssl
import subprocess
import urllib.request

CERT_NAME = "bench-cert.pem"
KEY_NAME = "bench-key.pem"
DIRECTORY = "tls"  # under the work directory; ours' config names the files relative to it


def ensure_certificate(work: str) -> tuple[str, str]:
    """(cert path, key path): a self-signed ECDSA P-256 certificate for localhost and 127.0.0.1."""
    directory = os.path.join(work, DIRECTORY)
    os.makedirs(directory, exist_ok=True)
    cert, key = os.path.join(directory, CERT_NAME), os.path.join(directory, KEY_NAME)
    if os.path.exists(cert) and os.path.exists(key) and _valid_for_a_day(cert):
        return cert, key
    result = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", key, "-out", cert, "-days", "30", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"openssl req failed: {result.stderr.strip()}")
    return cert, key


def _valid_for_a_day(cert: str) -> bool:
    result = subprocess.run(["openssl", "x509", "-in", cert, "-noout", "-checkend", "86400"],
                            capture_output=True, timeout=60)
    return result.returncode == 0


def client_context() -> ssl.SSLContext:
    """What the Python clients (sanity call, idle connections) use: TLS 1.2+, no verification, no
    session reuse (each wrap_socket without `session=` is a full handshake), ALPN http/1.1."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    return context


def handshake_counts(name: str, admin_port: int) -> tuple[int, int | None] | None:
    """(handshakes, resumed) the proxy has completed on its listeners, from its own admin endpoint.

    Envoy: the sums of `listener.*.ssl.handshake` and `listener.*.ssl.session_reused`; ours:
    `grpcwebproxy_downstream_tls_handshakes_total` and None (it does not count resumptions).
    None when the counters cannot be read.
    """
    try:
        if name == "envoy":
            text = _get(admin_port, "/stats?filter=ssl")
            handshakes = sum(int(v) for v in re.findall(r"^listener\..*\.ssl\.handshake: (\d+)$", text, re.M))
            reused = sum(int(v) for v in re.findall(r"^listener\..*\.ssl\.session_reused: (\d+)$", text, re.M))
            return handshakes, reused
        text = _get(admin_port, "/metrics")
        match = re.search(r"^grpcwebproxy_downstream_tls_handshakes_total (\d+)", text, re.M)
        return (int(match.group(1)), None) if match else None
    except (OSError, ValueError):
        return None


def _get(port: int, path: str) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return response.read().decode()
