"""JWT test material, made at test time with `cryptography`: a key per algorithm, its JWK, and tokens signed with
it (or deliberately wrong ones)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
ISSUER = "https://issuer.test/"
AUDIENCE = "api://orders"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_bytes(n: int, size: int | None = None) -> bytes:
    return n.to_bytes(size or (n.bit_length() + 7) // 8, "big")


class SigningKey:
    """A private key for one algorithm, with its public JWK."""

    def __init__(self, alg: str, kid: str) -> None:
        self.alg, self.kid = alg, kid
        if alg.startswith(("RS", "PS")):
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        elif alg == "ES256":
            self.private = ec.generate_private_key(ec.SECP256R1())
        elif alg == "ES384":
            self.private = ec.generate_private_key(ec.SECP384R1())
        else:
            self.private = ed25519.Ed25519PrivateKey.generate()

    def jwk(self) -> dict:
        pub = self.private.public_key()
        if self.alg.startswith(("RS", "PS")):
            numbers = pub.public_numbers()
            return {"kty": "RSA", "kid": self.kid, "use": "sig", "n": b64url(_int_bytes(numbers.n)),
                    "e": b64url(_int_bytes(numbers.e))}
        if self.alg.startswith("ES"):
            numbers, size = pub.public_numbers(), (32 if self.alg == "ES256" else 48)
            return {"kty": "EC", "kid": self.kid, "crv": "P-256" if size == 32 else "P-384",
                    "x": b64url(_int_bytes(numbers.x, size)), "y": b64url(_int_bytes(numbers.y, size))}
        raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "kid": self.kid, "crv": "Ed25519", "x": b64url(raw)}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign(self, signing_input: bytes, alg: str | None = None) -> bytes:
        alg = alg or self.alg
        digest = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}.get(alg[-3:])
        if alg.startswith("RS"):
            return self.private.sign(signing_input, padding.PKCS1v15(), digest)
        if alg.startswith("PS"):
            return self.private.sign(signing_input, padding.PSS(mgf=padding.MGF1(digest), salt_length=digest.digest_size),
                                     digest)
        if alg.startswith("ES"):
            r, s = decode_dss_signature(self.private.sign(signing_input, ec.ECDSA(digest)))
            size = 32 if alg == "ES256" else 48
            return _int_bytes(r, size) + _int_bytes(s, size)
        return self.private.sign(signing_input)

    def token(self, claims: dict | None = None, *, header: dict | None = None, **overrides) -> str:
        """A token valid for the test provider unless `claims`/`overrides` say otherwise."""
        now = int(time.time())
        payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-42", "email": "u42@example.test",
                   "iat": now, "exp": now + 600}
        payload.update(claims or {})
        payload = {k: v for k, v in payload.items() if v is not None}
        head = {"alg": self.alg, "typ": "JWT", "kid": self.kid}
        head.update(header or {})
        head = {k: v for k, v in head.items() if v is not None}
        signing_input = f"{b64url(json.dumps(head).encode())}.{b64url(json.dumps(payload).encode())}".encode()
        return signing_input.decode() + "." + b64url(self.sign(signing_input, head.get("alg", self.alg)))


def jwks(*keys: SigningKey) -> str:
    return json.dumps({"keys": [k.jwk() for k in keys]})


def unsigned_token(claims: dict) -> str:
    """`alg: none`, empty signature."""
    return f"{b64url(json.dumps({'alg': 'none', 'typ': 'JWT'}).encode())}.{b64url(json.dumps(claims).encode())}."


def hs256_with_public_key(key: SigningKey, claims: dict) -> str:
    """The classic key-confusion attack: HS256 keyed with the RSA public key's PEM bytes."""
    head = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
    body = b64url(json.dumps(claims).encode())
    mac = hmac.new(key.public_pem(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{b64url(mac)}"


def tamper(token: str, **changes) -> str:
    """The same signature over a payload changed after signing."""
    head, body, sig = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims.update(changes)
    return f"{head}.{b64url(json.dumps(claims).encode())}.{sig}"


def provider(jwks_path, **kw) -> dict:
    return {"name": "auth0", "issuer": ISSUER, "audiences": [AUDIENCE], "jwks_file": str(jwks_path),
            "from": ["authorization_bearer", {"cookie": "session"}, {"metadata": "x-auth"}],
            "forward_claims": {"sub": "x-user-id", "email": "x-user-email"}, "clock_skew": "5s", **kw}


class JWKSServer:
    """An HTTPS server (the test PKI's localhost certificate) answering every GET with what `answer` holds:
    (status, body). Counts the requests it served."""

    def __init__(self, pki, status: int = 200, body: str = "") -> None:
        import http.server
        import ssl
        import threading

        self.answer = (status, body)
        self.requests = 0
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 (http.server's naming)
                server.requests += 1
                status, body = server.answer
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(pki.server.cert), str(pki.server.key))
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.httpd.server_address[1]}/.well-known/jwks.json"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
