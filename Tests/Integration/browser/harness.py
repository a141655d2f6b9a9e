"""Runs the browser test page in a real headless Chromium and collects its JSON results.

The harness serves `page.html` / `tests.js` (this folder) and `/lib/grpc-web-lite.js` (deploy/demo, the client
library the demo uses too) from its own HTTP server, so the page's origin differs from the proxy's and every
call is cross-origin, as in production. The page POSTs `{"results": {...}}` to `/result`; `/log` collects
progress lines for failure reports. Chromium is started per run with a throw-away profile and killed afterwards.

With `tls=` (a server-side `ssl.SSLContext`) the page is served over HTTPS; `chromium_args` adds switches, e.g. the
`--ignore-certificate-errors-spki-list` that makes Chromium trust the test certificates.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent.parent
LIB = REPO / "deploy" / "demo" / "grpc-web-lite.js"

STATIC = {
    "/page.html": (HERE / "page.html", "text/html; charset=utf-8"),
    "/tests.js": (HERE / "tests.js", "text/javascript; charset=utf-8"),
    "/lib/grpc-web-lite.js": (LIB, "text/javascript; charset=utf-8"),
    # Calls without a preflight ($httpHeaders) and computed expose headers (test_browser_preflight_free.py).
    "/preflight.html": (HERE / "preflight.html", "text/html; charset=utf-8"),
    "/preflight.js": (HERE / "preflight.js", "text/javascript; charset=utf-8"),
    "/runner.js": (HERE / "runner.js", "text/javascript; charset=utf-8"),
    # JWT refusals read by the page (test_browser_jwt.py, which also serves the tokens it signs as /jwt_tokens.js).
    "/jwt_page.html": (HERE / "jwt_page.html", "text/html; charset=utf-8"),
    "/jwt_tests.js": (HERE / "jwt_tests.js", "text/javascript; charset=utf-8"),
}


def find_chromium() -> str | None:
    """$CHROMIUM, else the usual Debian / upstream binary names on PATH."""
    env = os.environ.get("CHROMIUM")
    if env:
        return env if shutil.which(env) or os.access(env, os.X_OK) else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


class BrowserRunError(AssertionError):
    pass


class _PageServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        """A refused TLS handshake (a browser that does not trust the certificate) is an expected outcome of some
        tests, not a harness error worth a traceback."""
        if not isinstance(sys.exc_info()[1], (ssl.SSLError, ConnectionError)):
            super().handle_error(request, client_address)


class BrowserHarness:
    def __init__(self, chromium: str, *, tls: ssl.SSLContext | None = None, chromium_args=()) -> None:
        self.chromium = chromium
        self.chromium_args = list(chromium_args)
        self.scheme = "https" if tls is not None else "http"
        self._result: dict | None = None
        self._got_result = threading.Event()
        self.page_log: list[str] = []
        self._server = _PageServer(("127.0.0.1", 0), self._handler_class())
        if tls is not None:
            # Handshakes happen in the per-request threads (on first read), so a slow one blocks nobody else.
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True,
                                                  do_handshake_on_connect=False)
        self._thread = threading.Thread(target=self._server.serve_forever, name="browser-harness", daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def origin(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def _handler_class(self):
        harness = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, fmt, *args):  # keep pytest output clean
                pass

            def _send(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                path = urllib.parse.urlsplit(self.path).path
                entry = STATIC.get(path)
                if entry is None:
                    self._send(404, b"not found")
                    return
                file, ctype = entry
                self._send(200, file.read_bytes(), ctype)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = urllib.parse.urlsplit(self.path).path
                if path == "/result":
                    harness._result = json.loads(body)
                    harness._got_result.set()
                elif path == "/log":
                    harness.page_log.append(body.decode(errors="replace"))
                self._send(204, b"")

        return Handler

    def run(self, proxy_base_url: str, tests: list[str], timeout_s: float = 60, page: str = "page.html") -> dict:
        """Loads `page` with ?proxy=&tests= in a fresh headless Chromium; returns results[name] per test."""
        self._result = None
        self._got_result.clear()
        self.page_log.clear()
        query = urllib.parse.urlencode({"proxy": proxy_base_url, "tests": ",".join(tests)})
        url = f"{self.origin}/{page}?{query}"
        proxy_port = urllib.parse.urlsplit(proxy_base_url).port
        with tempfile.TemporaryDirectory(prefix="wsb-chromium-") as profile:
            log_path = Path(profile) / "chromium.log"
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(
                    [self.chromium, "--headless=new", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                     "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                     "--disable-background-networking", "--disable-dev-shm-usage", "--disable-component-update",
                     # Ports come from the kernel; make sure none falls on Chromium's unsafe-port list.
                     f"--explicitly-allowed-ports={self.port},{proxy_port}",
                     *self.chromium_args, url],
                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
            try:
                if not self._got_result.wait(timeout_s):
                    raise BrowserRunError(
                        f"no result from the page within {timeout_s}s; page log: {self.page_log}\n"
                        f"chromium output (tail):\n{log_path.read_text(errors='replace')[-4000:]}")
            finally:
                self._kill(proc)
        results = self._result["results"]
        missing = [t for t in tests if t not in results]
        if missing:
            raise BrowserRunError(f"page returned no result for {missing}")
        return results

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:
        """Chromium forks helpers (renderer, zygote); they share the session we created for it."""
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(5)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
