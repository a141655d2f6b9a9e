"""The processes under test: the C++ upstream, Envoy and our proxy, each started pinned to a core.

Every process runs for the whole benchmark (started once, stopped at the end), so per-round
figures include warm caches and pools, as a long-running proxy would have them.
"""
import os
import socket
import subprocess
import time

import grpcweb
import jwtkeys
import tls

# Deliberate pinning: proxies on core 0; the upstream, the load generators and this harness on
# core 1 (run.sh pins the harness itself, and its children inherit that).
PROXY_CPU = "0"
CLIENT_CPU = "1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float, process: "Process") -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class Process:
    """A child process with its log file; `pid` is the measured process (taskset execs it)."""

    def __init__(self, name: str, argv: list, log_path: str, cpu: str):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.popen = subprocess.Popen(["taskset", "-c", cpu] + argv, stdout=self.log,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.log.close()

    def log_tail(self, limit: int = 600) -> str:
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
        except OSError:
            return ""
        return data[-limit:].decode("utf-8", "replace").strip()


class Target:
    """One way of reaching the upstream: `direct`, `envoy` or `ours`.

    `error` is set when the target could not be started or failed its sanity call; the harness
    then marks its cells "failed" instead of stopping the run.
    """

    def __init__(self, name: str, port: int, process: Process | None, admin_port: int = 0,
                 tls_enabled: bool = False):
        self.name = name
        self.port = port
        self.process = process
        self.admin_port = admin_port
        self.tls = tls_enabled  # the listener terminates TLS (a separate process from the plain one)
        self.error: str | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def usable(self) -> bool:
        if self.error:
            return False
        if self.process and not self.process.alive():
            self.error = f"process exited with {self.process.popen.returncode}: {self.process.log_tail()}"
            return False
        return True

    def stop(self) -> None:
        if self.process:
            self.process.stop()


def start_upstream(binary: str, work: str) -> tuple[Process, int]:
    port = free_port()
    process = Process("upstream", [binary, str(port)], os.path.join(work, "upstream.log"), CLIENT_CPU)
    if not wait_for_port(port, 10, process):
        process.stop()
        raise RuntimeError(f"upstream did not start: {process.log_tail()}")
    return process, port


def envoy_tls_socket(cert: str, key: str) -> str:
    """A DownstreamTlsContext for the listener's filter chain: one certificate, ALPN http/1.1,
    Envoy's default TLS parameters (TLS 1.2 to 1.3, its default ciphers and curves)."""
    return f"""\
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          common_tls_context:
            alpn_protocols: ["http/1.1"]
            tls_certificates:
            - certificate_chain: {{filename: "{cert}"}}
              private_key: {{filename: "{key}"}}
"""


def envoy_access_log(path: str) -> str:
    """A file access log with one JSON line per request, about the fields ours writes by default."""
    fields = {"start_time": "%START_TIME%", "duration_ms": "%DURATION%", "route": "%ROUTE_NAME%",
              "cluster": "%UPSTREAM_CLUSTER%", "endpoint": "%UPSTREAM_HOST%", "path": "%REQ(:PATH)%",
              "protocol": "%PROTOCOL%", "grpc_status": "%GRPC_STATUS(NUMBER)%", "grpc_message": "%RESP(GRPC-MESSAGE)%",
              "request_bytes": "%BYTES_RECEIVED%", "response_bytes": "%BYTES_SENT%",
              "downstream": "%DOWNSTREAM_REMOTE_ADDRESS%", "user_agent": "%REQ(USER-AGENT)%",
              "request_id": "%REQ(X-REQUEST-ID)%", "traceparent": "%REQ(TRACEPARENT)%"}
    json_format = ", ".join(f'{k}: "{v}"' for k, v in fields.items())
    return f"""\
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: {path}
              log_format: {{json_format: {{{json_format}}}}}
"""


def envoy_config(port: int, admin_port: int, upstream_port: int, tls_files: tuple[str, str] | None = None,
                 access_log: str | None = None) -> str:
    # Follows Envoy's own benchmarking advice (docs "how_to_benchmark_envoy"): no request ids,
    # no dynamic stats, circuit breakers out of the way; the route timeout is off for streams.
    # codec_type AUTO also serves h2c with prior knowledge (the h2 rows). Native gRPC
    # (application/grpc) takes the same route: grpc_web passes it untouched, cors does nothing
    # without an Origin, so only the router works on it, as our pass-through does.
    transport_socket = envoy_tls_socket(*tls_files) if tls_files else ""
    return f"""\
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: {admin_port}}}}}
static_resources:
  listeners:
  - name: web
    address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: web
          codec_type: AUTO
          generate_request_id: false
{envoy_access_log(access_log) if access_log else ""}          route_config:
            name: local
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {{prefix: "/"}}
                route: {{cluster: backend, timeout: 0s}}
              typed_per_filter_config:
                envoy.filters.http.cors:
                  "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy
                  allow_origin_string_match: [{{safe_regex: {{regex: ".*"}}}}]
                  allow_methods: "POST, GET, OPTIONS"
                  allow_headers: "content-type,x-grpc-web,x-user-agent,grpc-timeout"
                  expose_headers: "grpc-status,grpc-message"
                  max_age: "86400"
          http_filters:
          - name: envoy.filters.http.grpc_web
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.grpc_web.v3.GrpcWeb
          - name: envoy.filters.http.cors
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors
          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
              dynamic_stats: false
{transport_socket}  clusters:
  - name: backend
    type: STATIC
    connect_timeout: 1s
    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {{http2_protocol_options: {{}}}}
    circuit_breakers:
      thresholds:
      - {{max_connections: 1000000, max_pending_requests: 1000000, max_requests: 1000000}}
    load_assignment:
      cluster_name: backend
      endpoints:
      - lb_endpoints:
        - endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {upstream_port}}}}}}}
"""


def ours_config(port: int, admin_port: int, upstream_port: int, tls_files: tuple[str, str] | None = None,
                access_log: str | None = None, jwt_jwks: str | None = None) -> str:
    # The certificate is named relative to the config file's directory (the work directory), as an
    # operator's config next to its certs/ folder would.
    listener_tls = (f"    tls: {{cert: {tls.DIRECTORY}/{tls.CERT_NAME}, key: {tls.DIRECTORY}/{tls.KEY_NAME}}}\n"
                    if tls_files else "")
    log_section = f"access_log: {{path: {access_log}}}\n" if access_log else ""
    # The JWT rows: every call on the route must carry a token the bench provider's keys verify.
    route_jwt = "        jwt: {provider: bench}\n" if jwt_jwks else ""
    providers = jwtkeys.provider_yaml(jwt_jwks) if jwt_jwks else ""
    return f"""\
workers: 1
log_level: warn
{log_section}{providers}listeners:
  - name: web
    address: 127.0.0.1:{port}
{listener_tls}    cors: {{allow_origins: ["*"]}}
    routes:
      - prefix: /
        cluster: backend
{route_jwt}clusters:
  - name: backend
    endpoints: [127.0.0.1:{upstream_port}]
admin:
  address: 127.0.0.1:{admin_port}
"""


def start_proxy(name: str, binary: str | None, work: str, upstream_port: int,
                tls_files: tuple[str, str] | None = None, variant: str | None = None,
                jwt_setup: tuple[str, dict] | None = None) -> Target:
    """Starts Envoy or our proxy on core 0 and checks it with one unary gRPC-Web call.

    A `variant` is a second process of the same proxy (files `envoy-<variant>`, `ours-<variant>` in the
    work directory), so its rows measure a process that served nothing else: "tls" terminates TLS with
    `tls_files` (cert, key); "log" writes an access log line per call to `<name>-access.log`; "jwt" (ours only)
    requires a JWT on its route, verified with `jwt_setup` (JWKS path, tokens).
    """
    port, admin_port = free_port(), free_port()
    if binary is None or not os.path.exists(binary):
        target = Target(name, port, None, tls_enabled=tls_files is not None)
        target.error = f"binary not available ({binary})"
        return target
    file_stem = f"{name}-{variant}" if variant else name
    config_path = os.path.join(work, f"{file_stem}.yaml")
    log_path = os.path.join(work, f"{file_stem}.log")
    access_log = os.path.join(work, f"{name}-access.log") if variant == "log" else None
    if access_log and os.path.exists(access_log):
        os.remove(access_log)
    if name == "envoy":
        with open(config_path, "w") as f:
            f.write(envoy_config(port, admin_port, upstream_port, tls_files, access_log))
        argv = [binary, "-c", config_path, "--concurrency", "1", "--disable-hot-restart", "-l", "warn"]
    else:
        with open(config_path, "w") as f:
            f.write(ours_config(port, admin_port, upstream_port, tls_files, access_log,
                                jwt_setup[0] if jwt_setup else None))
        argv = [binary, "--config", config_path]
    process = Process(file_stem, argv, log_path, PROXY_CPU)
    target = Target(name, port, process, admin_port, tls_enabled=tls_files is not None)
    if not wait_for_port(port, 20, process):
        target.error = f"did not start listening: {process.log_tail()}"
        return target
    try:
        grpcweb.sanity_check(port, tls.client_context() if tls_files else None,
                             bearer=jwt_setup[1]["RS256"] if jwt_setup else None)
    except Exception as e:  # any failure here only disables this target
        target.error = f"sanity call failed: {e}"
    return target
