"""Issue 9, config and CLI half: `--validate` refuses CORS "*" with credentials (Fetch), sizes near Int.max, and
listening addresses that overlap once resolved; Origin `null` is never allowed by "*"; an unknown --log-level is a
usage error even with --validate; the test-only hosts override needs the explicit --test-hosts option."""

from __future__ import annotations

import os
import re
import subprocess

from cluster_support import hosts_file
from conftest import build_config, cluster, free_port, require_proxy_bin, to_yaml
from grpcweb_client import call, http_request

UNARY = "/test.Echo/Unary"


def validate(tmp_path, config: dict | str, *extra: str) -> subprocess.CompletedProcess:
    f = tmp_path / "edge.yaml"
    f.write_text(config if isinstance(config, str) else to_yaml(config) + "\n")
    return subprocess.run([str(require_proxy_bin()), "--validate", "--config", str(f), *extra], capture_output=True,
                          text=True, timeout=20, stdin=subprocess.DEVNULL)


def base(**kw) -> dict:
    return build_config(port=18091, admin_port=18092, upstream_port=50051, **kw)


def located(r: subprocess.CompletedProcess, path: str) -> str:
    """The error line, checked to be `file:line:column: key.path: message`."""
    out = r.stdout + r.stderr
    m = re.search(rf"edge\.yaml:(\d+):(\d+): {re.escape(path)}: (.*)", out)
    assert m, f"no located error for {path} in {out!r}"
    return m.group(3)


def test_validate_refuses_wildcard_origin_with_credentials(tmp_path):
    cfg = base(listener_extra={"cors": {"allow_origins": ["*"], "allow_credentials": True}})
    r = validate(tmp_path, cfg)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    message = located(r, "listeners[0].cors.allow_credentials")
    assert 'allow_origins "*" cannot be combined with allow_credentials: true' in message
    assert "Fetch" in message


def test_validate_refuses_route_credentials_over_listener_wildcard(tmp_path):
    route = {"prefix": "/", "cluster": "backend", "cors": {"allow_credentials": True}}
    r = validate(tmp_path, base(routes=[route]))  # the listener's default test policy allows "*"
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "Fetch" in located(r, "listeners[0].routes[0].cors.allow_credentials")


def test_null_origin_is_not_allowed_by_wildcard(start_proxy):
    p = start_proxy()  # default test policy: allow_origins ["*"], no credentials
    r = http_request(p.base_url, "OPTIONS", UNARY, {"Origin": "null", "Access-Control-Request-Method": "POST"})
    assert r.headers.get("access-control-allow-origin") is None, (r.status, r.headers)
    assert r.status != 204
    res = call(p.base_url, UNARY, [b"hi"], origin="null")
    assert "access-control-allow-origin" not in res.headers, res.headers
    # A real origin is still allowed by "*".
    res = call(p.base_url, UNARY, [b"hi"], origin="https://app.example")
    assert res.headers.get("access-control-allow-origin") == "https://app.example"


def test_null_origin_allowed_when_listed(start_proxy):
    p = start_proxy(listener_extra={"cors": {"allow_origins": ["null"]}})
    r = http_request(p.base_url, "OPTIONS", UNARY, {"Origin": "null", "Access-Control-Request-Method": "POST"})
    assert r.status == 204 and r.headers.get("access-control-allow-origin") == "null", (r.status, r.headers)


def test_validate_refuses_sizes_near_int_max(tmp_path):
    cfg = base(top_extra={"websocket": {"max_frame_size": 9223372036854775807}})
    r = validate(tmp_path, cfg)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert located(r, "websocket.max_frame_size") == "must be between 1 and 1GiB"
    r = validate(tmp_path, base(top_extra={"limits": {"max_request_body_size": "8GiB"}}))
    assert r.returncode == 1 and located(r, "limits.max_request_body_size") == "must be between 0 and 1GiB"


def test_validate_refuses_localhost_and_loopback_on_one_port(tmp_path):
    port = free_port()
    cfg = base(listener_extra={"address": f"127.0.0.1:{port}"}, top_extra={"admin": {"address": f"localhost:{port}"}})
    r = validate(tmp_path, cfg)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "overlaps" in located(r, "admin.address")


def test_validate_refuses_wildcard_listener_overlapping_another(tmp_path):
    port = free_port()
    cfg = base(listener_extra={"address": f"127.0.0.1:{port}"})
    second = dict(cfg["listeners"][0], name="all", address=f"0.0.0.0:{port}")
    cfg["listeners"].append(second)
    r = validate(tmp_path, cfg)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "every IPv4 address" in located(r, "listeners[1].address")


def test_validate_refuses_unknown_log_level(tmp_path):
    r = validate(tmp_path, base(), "--log-level", "loud")
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert 'unknown log level "loud"' in r.stderr
    r = validate(tmp_path, base(), "--log-level=verbose")
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert validate(tmp_path, base(), "--log-level", "warn").returncode == 0


def test_hosts_override_needs_the_explicit_option(start_proxy, upstream, itest_workdir):
    hosts = hosts_file(itest_workdir / "edge-hosts", {"edge-override.invalid": ["127.0.0.1"]})
    clusters = [cluster("backend", f"edge-override.invalid:{upstream.port}")]
    # The environment variable alone (as a production pod might inherit it) changes nothing.
    p = start_proxy(clusters=clusters, env={"GRPC_WEB_PROXY_TEST_HOSTS": str(hosts)})
    r = call(p.base_url, UNARY, [b"hi"])
    assert r.grpc_status == 14, (r.grpc_status, r.grpc_message)
    assert "test-only host overrides are active" not in p.log_text()
    # The hidden option turns it on, loudly.
    p2 = start_proxy(clusters=clusters, extra_args=["--test-hosts", str(hosts)])
    r = call(p2.base_url, UNARY, [b"hi"])
    assert r.grpc_status == 0 and r.messages == [b"hi"], (r.grpc_status, r.grpc_message)
    assert "--test-hosts" in p2.log_text() and "test-only host overrides are active" in p2.log_text()
    assert os.path.exists(hosts)
