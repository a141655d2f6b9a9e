"""Test certificates, made with the `openssl` command at test time (nothing is committed).

``make_test_pki(directory)`` writes a small PKI and returns a ``TestPKI`` with the paths:

* ``ca``: a self-signed test CA (ECDSA P-256) that signs everything below;
* ``server``: for ``localhost`` and ``127.0.0.1`` (DNS and IP SANs): the default listener certificate;
* ``sni``: for ``b.example.test`` and ``*.wild.example.test``: the second certificate chosen by SNI;
* ``client``: a client certificate (``CN=browser-1``, URI SAN ``spiffe://test/browser-1``, DNS SAN
  ``client.example.test``) for mTLS;
* ``expired``: for ``localhost``, valid only during two days of 2020;
* ``wrong_name``: for ``other.example.test`` only;
* ``other_ca``: a second, unrelated CA (to test "unknown CA"), and ``other_server`` signed by it for
  ``localhost``/``127.0.0.1``.

Each certificate entry is a ``CertPair(cert, key)``; ``cert`` is a PEM chain with the leaf first (the CA is not
included, as a server normally sends only leaf and intermediates). ``spki_hash(cert)`` gives the base64 SHA-256 of
the certificate's SubjectPublicKeyInfo, the form Chromium's ``--ignore-certificate-errors-spki-list`` takes.
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CertPair:
    cert: Path
    key: Path


@dataclass(frozen=True)
class TestPKI:
    directory: Path
    ca: CertPair
    server: CertPair
    sni: CertPair
    client: CertPair
    expired: CertPair
    wrong_name: CertPair
    other_ca: CertPair
    other_server: CertPair


def _openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {result.stderr.strip()}")


def _key(directory: Path, name: str) -> Path:
    path = directory / f"{name}.key"
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(path), cwd=directory)
    return path


def _self_signed_ca(directory: Path, name: str, subject: str) -> CertPair:
    key = _key(directory, name)
    cert = directory / f"{name}.pem"
    _openssl("req", "-x509", "-new", "-key", str(key), "-out", str(cert), "-days", "30", "-subj", subject,
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=directory)
    return CertPair(cert, key)


def _signed(directory: Path, ca: CertPair, name: str, subject: str, sans: str, usage: str,
            start: str | None = None, end: str | None = None) -> CertPair:
    """A leaf signed by `ca`. `start`/`end` (YYYYMMDDHHMMSSZ) pin the validity period through `openssl ca`, the
    only subcommand of OpenSSL 3.0 that can date a certificate in the past."""
    key = _key(directory, name)
    csr = directory / f"{name}.csr"
    cert = directory / f"{name}.pem"
    _openssl("req", "-new", "-key", str(key), "-out", str(csr), "-subj", subject, cwd=directory)
    ext = directory / f"{name}.ext"
    ext.write_text(
        "[leaf]\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature\n"
        f"extendedKeyUsage={usage}\n"
        f"subjectAltName={sans}\n")
    if start is None:
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca.cert), "-CAkey", str(ca.key), "-CAcreateserial",
                 "-out", str(cert), "-days", "30", "-extfile", str(ext), "-extensions", "leaf", cwd=directory)
    else:
        db = directory / f"{name}.db"
        db.write_text("")
        conf = directory / f"{name}.ca.cnf"
        conf.write_text(
            "[ca]\ndefault_ca=test\n"
            f"[test]\ndatabase={db}\nnew_certs_dir={directory}\nserial={directory / (name + '.serial')}\n"
            "default_md=sha256\npolicy=anything\ncopy_extensions=none\nunique_subject=no\n"
            "[anything]\ncommonName=supplied\n")
        (directory / f"{name}.serial").write_text("1000\n")
        _openssl("ca", "-batch", "-config", str(conf), "-in", str(csr), "-cert", str(ca.cert), "-keyfile",
                 str(ca.key), "-out", str(cert), "-startdate", start, "-enddate", end, "-notext",
                 "-extfile", str(ext), "-extensions", "leaf", cwd=directory)
    return CertPair(cert, key)


def make_test_pki(directory: Path) -> TestPKI:
    directory.mkdir(parents=True, exist_ok=True)
    ca = _self_signed_ca(directory, "ca", "/CN=grpc-web-proxy test CA")
    local = "DNS:localhost,IP:127.0.0.1"
    server = _signed(directory, ca, "server", "/CN=localhost", local, "serverAuth")
    sni = _signed(directory, ca, "sni", "/CN=b.example.test", "DNS:b.example.test,DNS:*.wild.example.test",
                  "serverAuth")
    client = _signed(directory, ca, "client", "/O=grpc-web-proxy tests/CN=browser-1",
                     "URI:spiffe://test/browser-1,DNS:client.example.test", "clientAuth")
    expired = _signed(directory, ca, "expired", "/CN=localhost", local, "serverAuth",
                      start="20200101000000Z", end="20200103000000Z")
    wrong_name = _signed(directory, ca, "wrong-name", "/CN=other.example.test", "DNS:other.example.test",
                         "serverAuth")
    other_ca = _self_signed_ca(directory, "other-ca", "/CN=unrelated test CA")
    other_server = _signed(directory, other_ca, "other-server", "/CN=localhost", local, "serverAuth")
    return TestPKI(directory, ca, server, sni, client, expired, wrong_name, other_ca, other_server)


def spki_hash(cert: Path) -> str:
    """base64(SHA-256(SubjectPublicKeyInfo DER)) of a PEM certificate."""
    pub = subprocess.run(["openssl", "x509", "-in", str(cert), "-noout", "-pubkey"], capture_output=True,
                         check=True, timeout=30).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub, capture_output=True,
                         check=True, timeout=30).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()
