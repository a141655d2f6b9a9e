"""The command line: --version, --help, --validate over every shipped config file, and the
error a broken config produces (exit 1, position as line:col)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from conftest import REPO, require_proxy_bin

CONFIG_DIR = REPO / "config"
ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(:?-[^}]*)?\}")


def run(*args, env=None, timeout=20) -> subprocess.CompletedProcess:
    binary = require_proxy_bin()
    return subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, **(env or {})), stdin=subprocess.DEVNULL)


def plausible_env(text: str) -> dict[str, str]:
    """Values for ${VAR} references in a config file, guessed from the variable name."""
    env = {}
    for m in ENV_REF.finditer(text):
        name = m.group(1)
        upper = name.upper()
        if "PORT" in upper:
            env[name] = "18080"
        elif any(k in upper for k in ("ADDR", "ENDPOINT", "UPSTREAM", "BACKEND", "HOST")):
            env[name] = "127.0.0.1:50051"
        elif any(k in upper for k in ("TIMEOUT", "INTERVAL")):
            env[name] = "5s"
        elif any(k in upper for k in ("WORKERS", "COUNT", "SIZE")):
            env[name] = "1"
        elif "ORIGIN" in upper:
            env[name] = "http://localhost:8080"
        elif "LEVEL" in upper:
            env[name] = "info"
        else:
            env[name] = "x"
    return env


def config_files() -> list:
    if not CONFIG_DIR.is_dir():
        return []
    return sorted(p for p in CONFIG_DIR.iterdir() if p.suffix in (".yaml", ".yml"))


def test_version():
    r = run("--version")
    assert r.returncode == 0, r.stderr
    out = (r.stdout + r.stderr).strip()
    assert re.search(r"\d+\.\d+(\.\d+)?", out), f"no version number in {out!r}"


def test_help():
    r = run("--help")
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    assert "--config" in out and "--validate" in out, out


def test_unknown_flag_fails():
    r = run("--definitely-not-a-flag")
    assert r.returncode != 0
    assert (r.stdout + r.stderr).strip()


def test_missing_config_file_fails(tmp_path):
    r = run("--validate", "--config", str(tmp_path / "nope.yaml"))
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "nope.yaml" in r.stdout + r.stderr


# The one-line test certificate of config/tls.yaml and the README (run in the config's directory).
TEST_CERT_COMMAND = ("mkdir -p certs && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30"
                     " -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1"
                     " -keyout certs/server.key -out certs/server.pem")


@pytest.mark.parametrize("path", config_files() or [None], ids=lambda p: p.name if p else "none")
def test_shipped_configs_validate(path, tmp_path):
    if path is None:
        pytest.skip(f"no *.yaml files in {CONFIG_DIR}")
    text = path.read_text()
    if "certs/" in text:
        # TLS examples name files relative to themselves: validate a copy next to a freshly made test certificate,
        # which also checks that the documented one-line command makes files the proxy accepts.
        subprocess.run(TEST_CERT_COMMAND, shell=True, cwd=tmp_path, check=True, capture_output=True, timeout=60)
        if (path.parent / "keys").is_dir():
            # Files shipped next to the examples (the JWKS of reference.yaml) travel with the copy.
            shutil.copytree(path.parent / "keys", tmp_path / "keys")
        path = tmp_path / path.name
        path.write_text(text)
    r = run("--validate", "--config", str(path), env=plausible_env(text))
    assert r.returncode == 0, f"{path.name}: rc={r.returncode}\n{r.stdout}\n{r.stderr}"


BROKEN_SYNTAX = """\
workers: 1
listeners:
  - name: web
    address: [127.0.0.1:8080
clusters: []
"""


def test_broken_yaml_reports_line_and_column(tmp_path):
    f = tmp_path / "broken.yaml"
    f.write_text(BROKEN_SYNTAX)
    r = run("--validate", "--config", str(f))
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    out = r.stdout + r.stderr
    m = re.search(r"\b(\d+):(\d+)\b", out)
    assert m, f"no line:col in {out!r}"
    assert 4 <= int(m.group(1)) <= 5, f"error reported at line {m.group(1)}, the problem is on line 4: {out!r}"


BAD_INDENT = """\
workers: 1
listeners:
  - name: web
    address: 127.0.0.1:8080
     routes: []
"""


def test_bad_indentation_reports_line_and_column(tmp_path):
    f = tmp_path / "indent.yaml"
    f.write_text(BAD_INDENT)
    r = run("--validate", "--config", str(f))
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert re.search(r"\b5:\d+\b", r.stdout + r.stderr), r.stdout + r.stderr


def test_semantic_error_is_reported(tmp_path):
    """Valid YAML, invalid config: a route names a cluster that does not exist."""
    f = tmp_path / "semantic.yaml"
    f.write_text("""\
workers: 1
listeners:
  - name: web
    address: 127.0.0.1:8080
    routes:
      - prefix: /
        cluster: nosuchcluster
clusters:
  - name: backend
    endpoints: [127.0.0.1:50051]
admin:
  address: 127.0.0.1:9901
""")
    r = run("--validate", "--config", str(f))
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "nosuchcluster" in r.stdout + r.stderr


def test_generated_test_config_validates(tmp_path):
    """The configuration the other integration tests use is itself valid."""
    from conftest import build_config, to_yaml

    f = tmp_path / "generated.yaml"
    f.write_text(to_yaml(build_config(port=18081, admin_port=18082, upstream_port=50051)) + "\n")
    r = run("--validate", "--config", str(f))
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
