"""Shared fixtures for the integration tests: the real grpcio upstream, the fault-injecting
HTTP/2 upstream, and the proxy process itself.

Fixtures (names are a contract with the other test files):

* ``upstream`` (session): ``UpstreamProcess`` running ``upstream_server.py`` on a free port.
* ``upstream_factory`` (function): ``upstream_factory(server_id="u2", port=0) -> UpstreamProcess``,
  extra upstreams stopped at test end. Optional TLS keywords (``tls_cert``, ``tls_key``, ``client_ca``,
  ``require_client_auth``, and ``control_ca`` / ``control_cert`` / ``control_key`` for the test's own control
  channel) make it a TLS server; see ``UpstreamProcess``.
* ``fault_upstream`` (function): ``fault_upstream(mode=None, **opts) -> FaultUpstreamProcess``.
* ``start_proxy`` (function): factory returning a started ``ProxyProcess``; every proxy it
  started is stopped at test end and its stderr is attached to the report of a failed test.
* ``proxy``: ``start_proxy()`` with the default configuration.

The proxy binary comes from ``$PROXY_BIN`` (default ``<repo>/.build/debug/grpc-web-proxy``);
tests that need it are skipped with a clear reason when it does not exist.
"""

from __future__ import annotations

import copy
import json
import os
import re
import signal as signal_mod
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
sys.path.insert(0, str(HERE))

DEFAULT_PROXY_BIN = REPO / ".build" / "debug" / "grpc-web-proxy"
# Memory-bound tests allow this much more RSS growth under AddressSanitizer (Tests/sanitize.sh sets
# PROXY_SANITIZER): its shadow memory and quarantine of freed blocks count as resident, tens of MiB in a flood.
SANITIZER_RSS_SLACK_MIB = 64 if os.environ.get("PROXY_SANITIZER") == "address" else 0
LOG_TAIL_LINES = 300
_SESSION_UPSTREAM = None  # set by the session fixture, read by the report hook


def proxy_bin() -> Path:
    return Path(os.environ.get("PROXY_BIN", str(DEFAULT_PROXY_BIN)))


def require_proxy_bin() -> Path:
    b = proxy_bin()
    if not (b.is_file() and os.access(b, os.X_OK)):
        pytest.skip(f"proxy binary not found at {b} (build it or set PROXY_BIN)")
    return b


_recent_ports: list[int] = []


def free_port() -> int:
    """A port that was free a moment ago (bind port 0, read it, close), never one handed out recently: the kernel
    may return the same ephemeral port twice in a row, which once gave a listener and the admin the same port."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _recent_ports:
            _recent_ports.append(port)
            del _recent_ports[:-64]
            return port
    raise RuntimeError("no fresh free port found")


def wait_port(port: int, timeout_s: float = 10, proc: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as e:
        return f"<cannot read {path}: {e}>"
    parts = text.splitlines()
    if len(parts) > lines:
        parts = [f"... ({len(parts) - lines} earlier lines in {path})"] + parts[-lines:]
    return "\n".join(parts)


# --------------------------------------------------------------------------------------
# Upstreams
# --------------------------------------------------------------------------------------


class UpstreamProcess:
    """``upstream_server.py`` as a subprocess, plus direct grpcio access to its control RPCs.

    With ``tls_cert``/``tls_key`` it serves TLS (``client_ca``: client certificates are verified;
    ``require_client_auth``: they are required). The control RPCs then go over TLS too: ``control_ca`` is the CA
    the test trusts for that channel, ``control_cert``/``control_key`` the client certificate it presents.
    """

    def __init__(self, workdir: Path, server_id: str = "u1", port: int = 0, grace_s: float = 5, *,
                 tls_cert: Path | None = None, tls_key: Path | None = None, client_ca: Path | None = None,
                 require_client_auth: bool = False, control_ca: Path | None = None,
                 control_cert: Path | None = None, control_key: Path | None = None) -> None:
        self.workdir = workdir
        self.server_id = server_id
        self.port = port
        self.grace_s = grace_s
        self.tls_cert, self.tls_key, self.client_ca = tls_cert, tls_key, client_ca
        self.require_client_auth = require_client_auth
        self.control_ca, self.control_cert, self.control_key = control_ca, control_cert, control_key
        self.proc: subprocess.Popen | None = None
        self.log_path = workdir / f"upstream-{server_id}-{os.getpid()}-{id(self)}.log"
        self._channel = None

    def _tls_args(self) -> list[str]:
        args = []
        for flag, value in (("--tls-cert", self.tls_cert), ("--tls-key", self.tls_key),
                            ("--client-ca", self.client_ca)):
            if value is not None:
                args += [flag, str(value)]
        if self.require_client_auth:
            args.append("--require-client-auth")
        return args

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "UpstreamProcess":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-u", str(HERE / "upstream_server.py"), "--port", str(self.port),
             "--id", self.server_id, "--grace", str(self.grace_s), *self._tls_args()],
            stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        line = self.proc.stdout.readline().decode(errors="replace").strip()
        if not line.startswith("READY "):
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"upstream did not start ({line!r}):\n{tail(self.log_path)}")
        self.port = int(line.split()[1])
        self._channel = None
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ensure_running(self) -> None:
        if not self.alive():
            self.start()

    def stop(self, grace: bool = True, timeout_s: float = 15) -> int | None:
        """SIGTERM → grpcio ``server.stop(grace)``: GOAWAY now, in-flight calls may finish."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal_mod.SIGTERM if grace else signal_mod.SIGKILL)
        try:
            rc = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        return rc

    def restart(self, grace: bool = True) -> None:
        """Graceful stop (the proxy sees GOAWAY) then a fresh server on the same port.

        Counters start from zero in the new process.
        """
        self.stop(grace=grace)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.start()
                return
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    # -- control RPCs, straight to the server with grpcio ----------------------------

    def _rpc(self, method: str, payload: bytes = b"", timeout_s: float = 10) -> bytes:
        import grpc

        if self._channel is None:
            self._channel = self._control_channel()
        fn = self._channel.unary_unary(method)
        return fn(payload, timeout=timeout_s, wait_for_ready=True)

    def _control_channel(self):
        import grpc

        if self.tls_cert is None:
            return grpc.insecure_channel(self.address)
        if self.control_ca is None:
            raise ValueError("a TLS upstream needs control_ca for the test's control channel")

        def read(path):
            return None if path is None else Path(path).read_bytes()

        creds = grpc.ssl_channel_credentials(read(self.control_ca), read(self.control_key), read(self.control_cert))
        return grpc.secure_channel(self.address, creds)

    def stats(self) -> dict:
        return json.loads(self._rpc("/test.Control/Stats"))

    def reset_stats(self) -> None:
        self._rpc("/test.Control/Reset")

    def set_health(self, serving: bool) -> None:
        self._rpc("/test.Control/SetHealth", b"SERVING" if serving else b"NOT_SERVING")

    def wait_stat(self, table: str, method: str, at_least: int = 1, timeout_s: float = 5) -> dict:
        """Polls stats until ``stats[table][method] >= at_least``; returns the last snapshot."""
        deadline = time.monotonic() + timeout_s
        while True:
            st = self.stats()
            if st.get(table, {}).get(method, 0) >= at_least or time.monotonic() > deadline:
                return st
            time.sleep(0.05)

    def log_text(self) -> str:
        return tail(self.log_path)


class FaultUpstreamProcess:
    """``fault_upstream.py`` (h2-based misbehaving server) as a subprocess."""

    def __init__(self, workdir: Path, mode: str | None = None, port: int = 0, **opts) -> None:
        self.workdir = workdir
        self.mode = mode
        self.port = port
        self.opts = opts
        self.proc: subprocess.Popen | None = None
        self.log_path = workdir / f"fault-upstream-{os.getpid()}-{id(self)}.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "FaultUpstreamProcess":
        args = [sys.executable, "-u", str(HERE / "fault_upstream.py"), "--port", str(self.port)]
        if self.mode:
            args += ["--mode", self.mode]
        for k, v in self.opts.items():
            args += [f"--{k.replace('_', '-')}", str(v)]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        line = self.proc.stdout.readline().decode(errors="replace").strip()
        if not line.startswith("READY "):
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"fault upstream did not start ({line!r}):\n{tail(self.log_path)}")
        self.port = int(line.split()[1])
        self.control_port = int(line.split()[2])
        return self

    def stats(self) -> dict:
        """What the server received: connections, streams per path, RST/GOAWAY it sent."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.control_port}/stats", timeout=5) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None and self.proc.stdout:
            self.proc.stdout.close()

    def log_text(self) -> str:
        return tail(self.log_path)


# --------------------------------------------------------------------------------------
# Proxy configuration (a small YAML emitter: block style, flow lists of scalars)
# --------------------------------------------------------------------------------------

_PLAIN = re.compile(r"^[A-Za-z0-9_./:+-][A-Za-z0-9_./:+ -]*$")
_AMBIGUOUS = re.compile(r"^(true|false|yes|no|on|off|null|~|[-+]?[0-9][0-9_]*(\.[0-9]*)?([eE][-+]?[0-9]+)?)$",
                        re.IGNORECASE)


def yaml_scalar(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    s = str(v)
    if _PLAIN.match(s) and not _AMBIGUOUS.match(s) and not s.endswith(" ") and ": " not in s and " #" not in s:
        return s
    return json.dumps(s)


def to_yaml(obj, indent: int = 0) -> str:
    pad = " " * indent
    lines = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            key = yaml_scalar(k)
            if isinstance(v, dict):
                lines.append(f"{pad}{key}:" + (" {}" if not v else ""))
                if v:
                    lines.append(to_yaml(v, indent + 2))
            elif isinstance(v, list):
                if not v:
                    lines.append(f"{pad}{key}: []")
                elif all(not isinstance(x, (dict, list)) for x in v):
                    lines.append(f"{pad}{key}: [" + ", ".join(yaml_scalar(x) for x in v) + "]")
                else:
                    lines.append(f"{pad}{key}:")
                    lines.append(to_yaml(v, indent + 2))
            else:
                lines.append(f"{pad}{key}: {yaml_scalar(v)}")
    elif isinstance(obj, list):
        for item in obj:
            if isinstance(item, dict) and item:
                body = to_yaml(item, indent + 2).split("\n")
                body[0] = f"{pad}- " + body[0][indent + 2:]
                lines.extend(body)
            else:
                lines.append(f"{pad}- {yaml_scalar(item)}")
    else:
        lines.append(pad + yaml_scalar(obj))
    return "\n".join(lines)


def deep_merge(base: dict, extra: dict | None) -> dict:
    """``extra`` wins; nested dicts are merged, everything else replaced. A None value deletes."""
    out = copy.deepcopy(base)
    for k, v in (extra or {}).items():
        if v is None:
            out.pop(k, None)
        elif isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


DEFAULT_CORS = {"allow_origins": ["*"], "allow_headers": ["x-custom"], "expose_headers": ["x-custom"],
                "max_age": "1h", "allow_credentials": False}


def default_route(cluster: str = "backend", **kw) -> dict:
    return {"prefix": "/", "cluster": cluster, "timeout": "0s", "max_request_bytes": "4MiB", **kw}


def cluster(name: str, *endpoints: str, connect_timeout: str = "1s", **kw) -> dict:
    return {"name": name, "endpoints": list(endpoints), "connect_timeout": connect_timeout, **kw}


def build_config(*, port: int, admin_port: int, upstream_port: int | None, routes=None, clusters=None,
                 listener_extra=None, top_extra=None) -> dict:
    if clusters is None:
        if upstream_port is None:
            raise ValueError("default cluster needs the upstream port")
        clusters = [cluster("backend", f"127.0.0.1:{upstream_port}")]
    listener = {
        "name": "web",
        "address": f"127.0.0.1:{port}",
        "websocket": True,
        "cors": copy.deepcopy(DEFAULT_CORS),
        "routes": routes if routes is not None else [default_route()],
    }
    top = {
        "workers": 1,
        "log_level": "info",
        "drain_timeout": "5s",
        "limits": {"max_request_headers_size": "60KiB", "max_headers_count": 100, "max_request_body_size": "16MiB",
                   "max_message_size": "4MiB", "header_read_timeout": "10s", "idle_timeout": "60s"},
        "websocket": {"max_frame_size": "4MiB", "max_message_size": "4MiB", "ping_interval": "30s",
                      "idle_timeout": "300s", "require_origin": False},
        "listeners": [deep_merge(listener, listener_extra)],
        "clusters": clusters,
        "admin": {"address": f"127.0.0.1:{admin_port}"},
    }
    return deep_merge(top, top_extra)


# --------------------------------------------------------------------------------------
# The proxy process
# --------------------------------------------------------------------------------------


class ProxyProcess:
    def __init__(self, binary: Path, config_path: Path, config_text: str, port: int | None,
                 admin_port: int | None, log_path: Path, log_level: str | None, extra_args=None,
                 env: dict | None = None) -> None:
        self.binary = binary
        self.config_path = config_path
        self.config_text = config_text
        self.port = port
        self.admin_port = admin_port
        self.log_path = log_path
        self.log_level = log_level
        self.extra_args = list(extra_args or [])
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.stopped_by_test = False
        self.start_rss_kib: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_url(self) -> str:
        return f"http://127.0.0.1:{self.admin_port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def start(self, wait_ready: bool = True, timeout_s: float = 15) -> "ProxyProcess":
        args = [str(self.binary), "--config", str(self.config_path)]
        if self.log_level:
            args += ["--log-level", self.log_level]
        args += self.extra_args
        log = open(self.log_path, "ab")
        env = dict(os.environ, **(self.env or {}))
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        log.close()
        if wait_ready:
            self.wait_ready(timeout_s)
            self.start_rss_kib = self.rss_kib()
        return self

    def wait_ready(self, timeout_s: float = 15) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"proxy exited with {self.proc.returncode} during start-up:\n{self.log_text()}")
            if self.admin_port is not None:
                if self.ready_status() == 200 and (self.port is None or wait_port(self.port, 0.5, self.proc)):
                    return
            elif self.port is not None and wait_port(self.port, 0.5, self.proc):
                return
            time.sleep(0.05)
        raise RuntimeError(f"proxy not ready after {timeout_s}s:\n{self.log_text()}")

    def ready_status(self, timeout_s: float = 2) -> int | None:
        """HTTP status of admin GET /ready, or None when nothing answers."""
        try:
            with urllib.request.urlopen(f"{self.admin_url}/ready", timeout=timeout_s) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except (urllib.error.URLError, OSError):
            return None

    def admin_get(self, path: str, timeout_s: float = 5) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"{self.admin_url}{path}", timeout=timeout_s) as r:
                return r.status, r.read().decode(errors="replace")
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def metric(self, name: str) -> int:
        """One unlabelled sample from the admin endpoint's /metrics."""
        status, text = self.admin_get("/metrics")
        assert status == 200, status
        for line in text.splitlines():
            if line.startswith(name + " "):
                return int(float(line.split()[1]))
        raise AssertionError(f"metric {name} not exported")

    def rss_kib(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, signal=signal_mod.SIGTERM, timeout=10) -> int:
        """Sends ``signal`` and waits; SIGKILL after ``timeout`` seconds. Returns the exit code."""
        self.stopped_by_test = True
        if self.proc.poll() is None:
            self.proc.send_signal(signal)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def wait_log(self, pattern: str, timeout_s: float = 5) -> re.Match | None:
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout_s
        while True:
            m = rx.search(self.log_text())
            if m or time.monotonic() > deadline:
                return m
            time.sleep(0.05)


# --------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def itest_workdir():
    with tempfile.TemporaryDirectory(prefix="grpcweb-itest-") as d:
        yield Path(d)


@pytest.fixture(scope="session")
def upstream(itest_workdir):
    global _SESSION_UPSTREAM
    u = UpstreamProcess(itest_workdir, "u1").start()
    _SESSION_UPSTREAM = u
    yield u
    u.stop()


@pytest.fixture
def upstream_factory(request, itest_workdir):
    started: list[UpstreamProcess] = []
    request.node._itest_upstreams = started

    def factory(server_id: str = "u2", port: int = 0, grace_s: float = 5, **tls) -> UpstreamProcess:
        u = UpstreamProcess(itest_workdir, server_id, port, grace_s, **tls).start()
        started.append(u)
        return u

    yield factory
    for u in started:
        u.stop(grace=False)


@pytest.fixture
def fault_upstream(request, itest_workdir):
    started: list[FaultUpstreamProcess] = []
    request.node._itest_faults = started

    def factory(mode: str | None = None, port: int = 0, **opts) -> FaultUpstreamProcess:
        f = FaultUpstreamProcess(itest_workdir, mode, port, **opts).start()
        started.append(f)
        return f

    yield factory
    for f in started:
        f.stop()


@pytest.fixture
def start_proxy(request, itest_workdir):
    started: list[ProxyProcess] = []
    request.node._itest_proxies = started

    def factory(routes=None, clusters=None, listener_extra=None, top_extra=None, config_text=None, *,
                wait_ready: bool = True, log_level: str | None = None, extra_args=None, env=None,
                port: int | None = None, admin_port: int | None = None) -> ProxyProcess:
        binary = require_proxy_bin()
        port = port or free_port()
        admin_port = admin_port or free_port()
        upstream_port = None
        if clusters is None or (config_text is not None and "$UPSTREAM_PORT" in config_text):
            u = request.getfixturevalue("upstream")
            u.ensure_running()
            upstream_port = u.port
        if config_text is None:
            text = to_yaml(build_config(port=port, admin_port=admin_port, upstream_port=upstream_port, routes=routes,
                                        clusters=clusters, listener_extra=listener_extra, top_extra=top_extra)) + "\n"
        else:
            # Placeholders instead of str.format, because YAML flow mappings use braces.
            text = config_text.replace("$ADMIN_PORT", str(admin_port)).replace("$UPSTREAM_PORT", str(upstream_port))
            text = text.replace("$PORT", str(port))
            if str(admin_port) not in text:
                admin_port = None
        n = len(started)
        cfg = itest_workdir / f"proxy-{request.node.name[:80]}-{n}.yaml".replace("/", "_")
        cfg.write_text(text)
        log = itest_workdir / f"proxy-{request.node.name[:80]}-{n}.log".replace("/", "_")
        level = log_level if log_level is not None else os.environ.get("PROXY_LOG_LEVEL", "debug")
        p = ProxyProcess(binary, cfg, text, port, admin_port, log, level or None, extra_args, env)
        started.append(p)
        p.start(wait_ready=wait_ready)
        return p

    yield factory

    crashed = []
    for p in started:
        if p.proc is None:
            continue
        rc = p.proc.poll()
        if rc is not None and rc != 0 and not p.stopped_by_test:
            how = f"signal {signal_mod.Signals(-rc).name}" if rc < 0 else f"exit code {rc}"
            crashed.append(f"proxy pid {p.pid} died on its own ({how})")
        p.stop(signal_mod.SIGTERM, 10)
        crashed += sanitizer_findings(p)
    if crashed:
        pytest.fail("; ".join(crashed) + " (a proxy must never die from what a test sends)", pytrace=False)


# Reports of sanitizer builds (`make sanitize`): any of these in a proxy's log fails the test that ran it.
SANITIZER_REPORT = re.compile(r"ERROR: (Address|Leak|Memory)Sanitizer|WARNING: ThreadSanitizer|SUMMARY: \w+Sanitizer")


def sanitizer_findings(p: "ProxyProcess") -> list[str]:
    m = SANITIZER_REPORT.search(p.log_text())
    return [f"proxy pid {p.pid} log has a sanitizer report: {m.group(0)!r} (see {p.log_path})"] if m else []


@pytest.fixture
def proxy(start_proxy):
    return start_proxy()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On failure, attach the logs of every proxy / upstream the test started."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for i, p in enumerate(getattr(item, "_itest_proxies", [])):
        report.sections.append((f"proxy #{i} config ({p.config_path})", p.config_text))
        report.sections.append((f"proxy #{i} stderr ({p.log_path})", tail(p.log_path)))
    for i, f in enumerate(getattr(item, "_itest_faults", [])):
        report.sections.append((f"fault upstream #{i} log", f.log_text()))
    if _SESSION_UPSTREAM is not None and "upstream" in getattr(item, "fixturenames", ()):
        report.sections.append(("upstream u1 log", _SESSION_UPSTREAM.log_text()))
    for i, u in enumerate(getattr(item, "_itest_upstreams", [])):
        report.sections.append((f"extra upstream #{i} log", u.log_text()))
