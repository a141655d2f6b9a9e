"""Keys and tokens for the JWT rows, made with the `openssl` command (no Python crypto package needed): an RSA
2048 key (RS256) and a P-256 key (ES256) into <work>/jwt/, their JWKS, and one token per algorithm valid for a
day. Our proxy's `ours-jwt` process verifies these on every call (with its per-worker cache, as deployed)."""
import base64
import json
import os
import subprocess
import time

DIRECTORY = "jwt"
ISSUER = "https://bench.example/"
AUDIENCE = "bench"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _openssl(args: list, cwd: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(["openssl", *args], cwd=cwd, input=stdin, capture_output=True, check=True).stdout


def _der_signature_to_jose(der: bytes, size: int) -> bytes:
    """ECDSA-Sig-Value (DER) -> r || s, each `size` bytes."""
    at = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    out = b""
    for _ in range(2):
        length = der[at + 1]
        out += der[at + 2:at + 2 + length].lstrip(b"\0").rjust(size, b"\0")
        at += 2 + length
    return out


def make(work: str) -> tuple[str, dict]:
    """Returns (path of the JWKS file, {"RS256": token, "ES256": token})."""
    d = os.path.join(work, DIRECTORY)
    os.makedirs(d, exist_ok=True)
    _openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.pem"], d)
    _openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ec.pem"], d)
    modulus = _openssl(["rsa", "-in", "rsa.pem", "-noout", "-modulus"], d).decode().strip().split("=", 1)[1]
    point = _openssl(["pkey", "-in", "ec.pem", "-pubout", "-outform", "DER"], d)[-65:]
    keys = [
        {"kty": "RSA", "kid": "bench-rs", "alg": "RS256", "n": _b64url(bytes.fromhex(modulus)), "e": "AQAB"},
        {"kty": "EC", "kid": "bench-es", "alg": "ES256", "crv": "P-256", "x": _b64url(point[1:33]),
         "y": _b64url(point[33:])},
    ]
    jwks_path = os.path.join(d, "jwks.json")
    with open(jwks_path, "w") as f:
        json.dump({"keys": keys}, f)
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "bench-user", "iat": now, "exp": now + 86400}
    tokens = {}
    for alg, kid, key in (("RS256", "bench-rs", "rsa.pem"), ("ES256", "bench-es", "ec.pem")):
        header = {"alg": alg, "typ": "JWT", "kid": kid}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}".encode()
        signature = _openssl(["dgst", "-sha256", "-sign", key], d, stdin=signing_input)
        if alg == "ES256":
            signature = _der_signature_to_jose(signature, 32)
        tokens[alg] = signing_input.decode() + "." + _b64url(signature)
    return jwks_path, tokens


def provider_yaml(jwks_path: str) -> str:
    return f"""\
jwt_providers:
  - name: bench
    issuer: {ISSUER}
    audiences: [{AUDIENCE}]
    jwks_file: {jwks_path}
    forward_claims: {{sub: x-user-id}}
"""
