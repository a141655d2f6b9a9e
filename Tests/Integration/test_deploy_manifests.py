"""Every file in deploy/ that an operator applies or installs, checked: the Kubernetes manifests (parsed, and
the fields that matter cross-checked: selectors against labels, probes against the admin address, the PDB and
the HPA against the Deployment, the security context against the Containerfile's user, every mounted ConfigMap
and Secret defined), the config each ConfigMap carries (`grpc-web-proxy --validate`, TLS paths pointed at a
certificate made with README's one-line openssl command), the reload sidecar's script run for real against a
proxy (a renewed certificate is served after it sends SIGHUP), the Containerfile, and the systemd unit
(`systemd-analyze verify`).

Also the house-keeping rules of issue 12: nothing stray at the top of the repository, and no user-facing file
(README, docs/, config/, deploy/) points into the developers' `../shared/` folder, which users do not have.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from conftest import REPO, free_port, require_proxy_bin, tail, wait_port

DEPLOY = REPO / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
CONTAINERFILE = DEPLOY / "Containerfile"
UNIT = DEPLOY / "systemd" / "grpc-web-proxy.service"

# Every manifest and what it must hold; a new file in deploy/kubernetes fails test_every_manifest_is_known until
# it is listed here (and so checked).
MANIFEST_KINDS = {
    "grpc-web-proxy.yaml": ["ConfigMap", "Deployment", "Service"],
    "pdb.yaml": ["PodDisruptionBudget"],
    "hpa.yaml": ["HorizontalPodAutoscaler"],
    "tls-and-reload.yaml": ["Certificate", "ConfigMap", "ConfigMap", "Deployment", "Service"],
}
# The files that define a whole proxy (ConfigMap + Deployment + Service); pdb.yaml and hpa.yaml go with either.
PROXY_MANIFESTS = ["grpc-web-proxy.yaml", "tls-and-reload.yaml"]
TLS_MOUNT = "/etc/grpc-web-proxy-tls/"


def load(name: str) -> list[dict]:
    docs = [d for d in yaml.safe_load_all((KUBERNETES / name).read_text()) if d is not None]
    for d in docs:
        assert d.get("apiVersion") and d.get("kind") and d.get("metadata", {}).get("name"), f"{name}: {d}"
    return docs


def only(docs: list[dict], kind: str, name: str | None = None) -> dict:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def proxy_container(deployment: dict) -> dict:
    return only_container(deployment, "proxy")


def only_container(deployment: dict, name: str) -> dict:
    found = [c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == name]
    assert len(found) == 1, f"container {name}"
    return found[0]


def containerfile_final_stage() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the last stage, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text())
    lines = [l.strip() for l in text.splitlines() if l.strip() and not l.strip().startswith("#")]
    stages: list[list[tuple[str, str]]] = []
    for line in lines:
        instruction, _, rest = line.partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), rest.strip()))
    return stages[-1]


def image_user() -> int:
    users = [args for instruction, args in containerfile_final_stage() if instruction == "USER"]
    assert users, "the runtime stage sets no USER: the container would run as root"
    assert users[-1].isdigit(), f"USER {users[-1]}: numeric, or the kubelet cannot check runAsNonRoot"
    return int(users[-1])


def entrypoint_binary() -> str:
    entry = [args for instruction, args in containerfile_final_stage() if instruction == "ENTRYPOINT"]
    assert entry
    return yaml.safe_load(entry[-1])[0]  # exec form: a JSON list, which YAML reads too


def run_readme_cert_command(directory: Path) -> tuple[Path, Path]:
    """README's one-line openssl command, run as written (it makes certs/server.pem and certs/server.key)."""
    readme = (REPO / "README.md").read_text()
    command = next(l for l in readme.splitlines() if l.startswith("mkdir -p certs && openssl req "))
    directory.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(["bash", "-c", command], cwd=directory, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return directory / "certs" / "server.pem", directory / "certs" / "server.key"


def config_of(name: str) -> str:
    config_maps = [d for d in load(name) if d["kind"] == "ConfigMap" and "config.yaml" in d.get("data", {})]
    assert len(config_maps) == 1
    return config_maps[0]["data"]["config.yaml"]


def localised_config(name: str, tmp_path: Path, *, port: int = 8080, admin_port: int = 9901,
                     upstream_port: int = 50051) -> Path:
    """The ConfigMap's config with its certificate paths pointed at a fresh README certificate and (for a real
    run) its addresses on loopback: everything else byte for byte as shipped."""
    text = config_of(name)
    if TLS_MOUNT in text:
        cert, key = run_readme_cert_command(tmp_path / "tls-src")
        tls_dir = tmp_path / "tls"
        tls_dir.mkdir(exist_ok=True)
        shutil.copy(cert, tls_dir / "tls.crt")
        shutil.copy(key, tls_dir / "tls.key")
        text = text.replace(TLS_MOUNT, f"{tls_dir}/")
    text = re.sub(r"0\.0\.0\.0:\d+", f"127.0.0.1:{port}", text)
    text = text.replace("127.0.0.1:9901", f"127.0.0.1:{admin_port}")
    text = text.replace("backend-grpc-headless:50051", f"127.0.0.1:{upstream_port}")
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir(exist_ok=True)
    path = conf_dir / "config.yaml"
    path.write_text(text)
    return path


def validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(require_proxy_bin()), "--validate", "--config", str(path)],
                          capture_output=True, text=True, timeout=30)


def duration_seconds(text: str) -> float:
    m = re.fullmatch(r"(\d+)(ms|s|m|h)", text)
    assert m, text
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


# Manifests, statically
# --------------------------------------------------------------------------------------

def test_every_manifest_is_known_and_has_its_kinds():
    files = sorted(p.name for p in KUBERNETES.iterdir() if p.is_file())
    assert files == sorted(MANIFEST_KINDS), "a manifest in deploy/kubernetes is not checked by this file"
    for name, kinds in MANIFEST_KINDS.items():
        assert sorted(d["kind"] for d in load(name)) == sorted(kinds), name


@pytest.mark.parametrize("name", PROXY_MANIFESTS)
def test_deployment_service_and_configmap_fit_together(name):
    docs = load(name)
    deployment = only(docs, "Deployment", "grpc-web-proxy")
    assert deployment["apiVersion"] == "apps/v1"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    match = deployment["spec"]["selector"]["matchLabels"]
    assert match and match.items() <= labels.items(), "the Deployment's selector does not select its own pods"

    service = only(docs, "Service", "grpc-web-proxy")
    assert service["spec"]["selector"].items() <= labels.items(), "the Service selects no proxy pod"
    container = proxy_container(deployment)
    port_names = {p["name"]: p["containerPort"] for p in container["ports"]}
    for p in service["spec"]["ports"]:
        assert p["targetPort"] in port_names, f"Service targetPort {p['targetPort']} is no container port"

    config = yaml.safe_load(config_of(name))
    listener_ports = {int(l["address"].rsplit(":", 1)[1]) for l in config["listeners"]}
    assert set(port_names.values()) == listener_ports, "container ports and the config's listeners differ"
    assert config["admin"]["address"].startswith("127.0.0.1:"), "the admin endpoint must stay on loopback"

    # The image's entrypoint is what args are given to; --config names the mounted ConfigMap key.
    args = container["args"]
    config_path = Path(args[args.index("--config") + 1])
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    config_volume = next(n for n, m in mounts.items() if m["mountPath"] == str(config_path.parent))
    config_map_name = volumes[config_volume]["configMap"]["name"]
    assert config_path.name in only(docs, "ConfigMap", config_map_name)["data"]

    # Graceful drain needs more time than drain_timeout before the kubelet kills the pod.
    grace = deployment["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace > duration_seconds(config["drain_timeout"])


@pytest.mark.parametrize("name", PROXY_MANIFESTS)
def test_probes_are_exec_probes_on_the_loopback_admin_endpoint(name):
    deployment = only(load(name), "Deployment")
    container = proxy_container(deployment)
    admin = yaml.safe_load(config_of(name))["admin"]["address"]
    expected = {"readinessProbe": "/ready", "livenessProbe": "/healthz"}
    for probe, path in expected.items():
        command = container[probe]["exec"]["command"]
        assert command == [entrypoint_binary(), "--probe", f"{admin}{path}"], f"{name} {probe}: {command}"
        assert container[probe]["timeoutSeconds"] >= 1


@pytest.mark.parametrize("name", PROXY_MANIFESTS)
def test_pods_run_as_the_image_user_without_privileges(name):
    deployment = only(load(name), "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == image_user() != 0
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    for container in pod["containers"]:
        sc = container["securityContext"]
        assert sc["runAsNonRoot"] is True, container["name"]
        assert sc["readOnlyRootFilesystem"] is True, container["name"]
        assert sc["allowPrivilegeEscalation"] is False, container["name"]
        assert sc["capabilities"]["drop"] == ["ALL"], container["name"]
        assert not sc["capabilities"].get("add"), container["name"]
        assert "privileged" not in sc, container["name"]
        # The kubelet never updates a subPath mount: a changed ConfigMap or renewed Secret would never arrive.
        assert all("subPath" not in m for m in container.get("volumeMounts", [])), container["name"]
        # The HPA's CPU utilisation is relative to the request.
        assert container["resources"]["requests"]["cpu"], container["name"]


@pytest.mark.parametrize("name", PROXY_MANIFESTS)
def test_every_mounted_volume_is_defined(name):
    docs = load(name)
    pod = only(docs, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    for container in pod["containers"]:
        for m in container.get("volumeMounts", []):
            assert m["name"] in volumes, f"{container['name']} mounts undefined volume {m['name']}"
    secrets_made = {d["spec"]["secretName"] for d in docs if d["kind"] == "Certificate"}
    for v in volumes.values():
        if "configMap" in v:
            only(docs, "ConfigMap", v["configMap"]["name"])
        if "secret" in v:
            assert v["secret"]["secretName"] in secrets_made, f"Secret {v['secret']['secretName']} is made by nothing"


def test_pdb_keeps_a_pod_serving_and_lets_drains_through():
    pdb = only(load("pdb.yaml"), "PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1"
    hpa = only(load("hpa.yaml"), "HorizontalPodAutoscaler")
    assert ("minAvailable" in pdb["spec"]) != ("maxUnavailable" in pdb["spec"]), "exactly one of the two"
    for name in PROXY_MANIFESTS:
        deployment = only(load(name), "Deployment")
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items(), f"the PDB misses {name}'s pods"
        replicas = min(deployment["spec"]["replicas"], hpa["spec"]["minReplicas"])
        if "minAvailable" in pdb["spec"]:
            # At least one pod Ready, and fewer than all required, or a node drain can never evict one.
            assert 1 <= pdb["spec"]["minAvailable"] < replicas
        else:
            assert 1 <= pdb["spec"]["maxUnavailable"] < replicas


def test_hpa_scales_the_deployment_on_cpu():
    hpa = only(load("hpa.yaml"), "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert target == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "grpc-web-proxy"}
    for name in PROXY_MANIFESTS:
        only(load(name), "Deployment", target["name"])
    assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    [metric] = hpa["spec"]["metrics"]
    assert metric["type"] == "Resource" and metric["resource"]["name"] == "cpu"
    assert 0 < metric["resource"]["target"]["averageUtilization"] <= 100
    # Scale-down drains pods, cutting nothing but slowly: a stabilisation window keeps short dips from doing it.
    assert hpa["spec"]["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 60


def test_tls_variant_serves_the_certificate_secret_and_watches_it():
    docs = load("tls-and-reload.yaml")
    certificate = only(docs, "Certificate")
    assert certificate["apiVersion"] == "cert-manager.io/v1"
    deployment = only(docs, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    tls_volume = next(v["name"] for v in pod["volumes"] if v.get("secret", {}).get("secretName")
                      == certificate["spec"]["secretName"])
    tls_mount = next(m["mountPath"] for m in proxy_container(deployment)["volumeMounts"] if m["name"] == tls_volume)
    assert tls_mount + "/" == TLS_MOUNT
    [listener] = yaml.safe_load(config_of("tls-and-reload.yaml"))["listeners"]
    # cert-manager's Secret keys: the listener reads exactly those files.
    assert listener["tls"] == {"cert": f"{TLS_MOUNT}tls.crt", "key": f"{TLS_MOUNT}tls.key"}

    reloader = only_container(deployment, "config-reloader")
    env = {e["name"]: e["value"] for e in reloader["env"]}
    watched = env["WATCH_FILES"].split()
    reloader_mounts = {m["name"]: m["mountPath"] for m in reloader["volumeMounts"]}
    proxy_mounts = {m["name"]: m["mountPath"] for m in proxy_container(deployment)["volumeMounts"]}
    for volume, path in proxy_mounts.items():
        assert reloader_mounts.get(volume) == path, f"the sidecar does not see {volume} where the proxy does"
        assert f"{path}/*" in watched, f"the sidecar does not watch {path}"
    if "RELOAD_URL" not in env:
        assert pod["shareProcessNamespace"] is True, "SIGHUP needs the proxy's process visible to the sidecar"
    script_map = next(v["configMap"]["name"] for v in pod["volumes"] if v["name"] == "reloader")
    script = only(docs, "ConfigMap", script_map)["data"]["reload.sh"]
    assert reloader["command"] == ["/bin/sh", f"{reloader_mounts['reloader']}/reload.sh"]
    syntax = subprocess.run(["sh", "-n"], input=script, capture_output=True, text=True, timeout=10)
    assert syntax.returncode == 0, syntax.stderr


# The configs the ConfigMaps carry, and the proxy running them
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", PROXY_MANIFESTS)
def test_configmap_config_passes_validate(name, tmp_path):
    result = validate(localised_config(name, tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout


def test_configmap_validate_reads_the_certificate(tmp_path):
    """The TLS paths are really checked: with the key missing, --validate names the key at fault."""
    path = localised_config("tls-and-reload.yaml", tmp_path)
    (tmp_path / "tls" / "tls.key").unlink()
    result = validate(path)
    assert result.returncode == 1
    assert "listeners[0].tls.key" in result.stdout + result.stderr


class Reloader:
    """The sidecar's reload.sh, run with sh as the pod would, its output collected line by line."""

    def __init__(self, script: str, env: dict[str, str], workdir: Path):
        path = workdir / "reload.sh"
        path.write_text(script)
        self.lines: list[str] = []
        self.proc = subprocess.Popen(["sh", str(path)], env={**os.environ, **env}, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, fragment: str, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(fragment in l for l in self.lines):
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.reader.join(timeout=5)


def kubelet_style_update(directory: Path, files: dict[str, bytes], version: int):
    """What the kubelet does to a ConfigMap or Secret volume: the files live in a timestamped directory, `..data`
    points at it, the visible names are symlinks through `..data`; an update writes a new directory and swaps
    `..data` atomically."""
    target = directory / f"..v{version}"
    target.mkdir()
    for name, content in files.items():
        (target / name).write_bytes(content)
    link = directory / "..data_tmp"
    link.symlink_to(target.name)
    os.replace(link, directory / "..data")
    for name in files:
        visible = directory / name
        if not visible.is_symlink():
            if visible.exists():
                visible.unlink()
            visible.symlink_to(f"..data/{name}")


class NamedProxy:
    """The proxy started through a uniquely named link to the binary: the sidecar looks the proxy up by process
    name, and must find this one only, never another proxy running on this machine."""

    def __init__(self, tmp_path: Path, config: Path, args: list[str]):
        self.name = "gwp-" + secrets.token_hex(4)
        (tmp_path / "bin").mkdir(exist_ok=True)
        (tmp_path / "bin" / self.name).symlink_to(require_proxy_bin())
        self.log_path = tmp_path / "proxy.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen([str(tmp_path / "bin" / self.name), *args, str(config)], stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log_count(self, fragment: str, count: int, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.log().count(fragment) >= count:
                return True
            time.sleep(0.05)
        return False

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def replace_file(path: Path, text: str):
    """Atomically, as an editor or the kubelet does: a poll never reads a half-written config."""
    temporary = path.with_name(path.name + ".new")
    temporary.write_text(text)
    os.replace(temporary, path)


def served_certificate(port: int) -> bytes:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.getpeercert(binary_form=True)


@pytest.mark.timeout(90)
def test_reload_sidecar_makes_the_proxy_serve_a_renewed_certificate(tmp_path, upstream):
    """The shipped TLS config and reload.sh, run as in the pod: the certificate Secret is renewed the kubelet's way,
    the sidecar notices within its poll, sends SIGHUP, the proxy logs `TLS files reloaded` and new handshakes get
    the new certificate; then an edited config is reloaded the same way (SIGHUP re-reads the whole config since live
    reload). Probes from the manifest pass against the running proxy."""
    if shutil.which("pidof") is None:
        pytest.skip("pidof is absent (the sidecar finds the proxy with it)")
    port, admin_port = free_port(), free_port()
    config = localised_config("tls-and-reload.yaml", tmp_path, port=port, admin_port=admin_port,
                              upstream_port=upstream.port)
    # Re-lay the TLS files as the kubelet does, so the sidecar's globs meet `..data` as in a pod.
    tls_dir = tmp_path / "tls"
    first = {n: (tls_dir / n).read_bytes() for n in ("tls.crt", "tls.key")}
    for n in first:
        (tls_dir / n).unlink()
    kubelet_style_update(tls_dir, first, 1)

    deployment = only(load("tls-and-reload.yaml"), "Deployment")
    proxy = NamedProxy(tmp_path, config, proxy_container(deployment)["args"][:1])
    name, log_path = proxy.name, proxy.log_path
    reloader = None
    try:
        assert wait_port(admin_port, 15, proxy.proc) and wait_port(port, 15, proxy.proc), tail(log_path)
        assert served_certificate(port) == ssl.PEM_cert_to_DER_cert(first["tls.crt"].decode())

        pids = subprocess.run(["pidof", name], capture_output=True, text=True, timeout=10).stdout.split()
        assert pids == [str(proxy.proc.pid)], f"pidof {name} found {pids}, expected only {proxy.proc.pid}"

        for probe in ("readinessProbe", "livenessProbe"):
            command = proxy_container(deployment)[probe]["exec"]["command"]
            command = [str(require_proxy_bin()), *command[1:]]
            command[-1] = command[-1].replace("127.0.0.1:9901", f"127.0.0.1:{admin_port}")
            probe_run = subprocess.run(command, capture_output=True, text=True, timeout=10)
            assert probe_run.returncode == 0, f"{probe}: {shlex.join(command)}: {probe_run.stderr}"

        env = {e["name"]: e["value"] for e in only_container(deployment, "config-reloader")["env"]}
        assert "RELOAD_URL" not in env
        poll = 0.2
        reloader = Reloader(
            config_of_reloader(), {"WATCH_FILES": f"{config.parent}/* {tls_dir}/*", "POLL_SECONDS": str(poll),
                                   "PROXY_PROCESS_NAME": name}, tmp_path)
        assert reloader.wait_for("config-reloader: watching", 10), reloader.lines

        # Unchanged files (even re-laid with identical content) send nothing: 10 polls, no signal.
        kubelet_style_update(tls_dir, first, 2)
        deadline = time.monotonic() + 10 * poll
        while time.monotonic() < deadline:
            assert not any("SIGHUP" in l for l in reloader.lines), reloader.lines
            time.sleep(poll / 2)
        assert "TLS files reloaded" not in log_path.read_text(errors="replace")

        renewed_cert, renewed_key = run_readme_cert_command(tmp_path / "renewed")
        kubelet_style_update(tls_dir, {"tls.crt": renewed_cert.read_bytes(), "tls.key": renewed_key.read_bytes()}, 3)
        assert reloader.wait_for(f"sent SIGHUP to {name} ({proxy.proc.pid})", 10), reloader.lines
        assert proxy.wait_log_count("TLS files reloaded", 1, 10), tail(log_path)
        assert served_certificate(port) == ssl.PEM_cert_to_DER_cert(renewed_cert.read_text())

        # An edited ConfigMap: the same path (whole config on SIGHUP since live reload), the change in force.
        edited = config.read_text().replace("connect_timeout: 2s", "connect_timeout: 3s")
        assert edited != config.read_text()
        replace_file(config, edited)
        assert proxy.wait_log_count("config reloaded", 2, 10), tail(log_path)
        assert "new or changed clusters: backend" in proxy.log()
        assert proxy.proc.poll() is None, tail(log_path)
        assert sum("SIGHUP" in l for l in reloader.lines) == 2, reloader.lines
    finally:
        if reloader is not None:
            reloader.stop()
        proxy.stop()


def config_of_reloader() -> str:
    return only(load("tls-and-reload.yaml"), "ConfigMap", "grpc-web-proxy-reloader")["data"]["reload.sh"]


@pytest.mark.timeout(60)
def test_reload_sidecar_posts_to_reload_url_when_set(tmp_path, upstream):
    """The sidecar's other mode: with RELOAD_URL it POSTs /reload on the admin address (nothing signalled). A valid
    edit of the shipped ConfigMap config is reloaded; an invalid one is refused and the proxy keeps running."""
    if shutil.which("wget") is None:
        pytest.skip("wget is absent (the busybox sidecar posts with its wget)")
    port, admin_port = free_port(), free_port()
    config = localised_config("grpc-web-proxy.yaml", tmp_path, port=port, admin_port=admin_port,
                              upstream_port=upstream.port)
    proxy = NamedProxy(tmp_path, config, ["--config"])
    reloader = None
    try:
        assert wait_port(admin_port, 15, proxy.proc), tail(proxy.log_path)
        reloader = Reloader(config_of_reloader(), {
            "WATCH_FILES": f"{config.parent}/*", "POLL_SECONDS": "0.2",
            "RELOAD_URL": f"http://127.0.0.1:{admin_port}/reload",
            # A name no process has: if the script signalled instead of posting, it would say it found none.
            "PROXY_PROCESS_NAME": "gwp-" + secrets.token_hex(4)}, tmp_path)
        assert reloader.wait_for("config-reloader: watching", 10), reloader.lines

        good = config.read_text().replace("timeout: 0s", "timeout: 30s")
        assert good != config.read_text()
        replace_file(config, good)
        assert reloader.wait_for("accepted", 10), reloader.lines
        assert proxy.wait_log_count("config reloaded", 1, 10), tail(proxy.log_path)

        replace_file(config, good.replace("connect_timeout: 2s", "connect_timeout: soon"))
        assert reloader.wait_for("failed (see the proxy's log)", 10), reloader.lines
        assert proxy.wait_log_count("config not reloaded", 1, 10), tail(proxy.log_path)
        assert "clusters[0].connect_timeout" in proxy.log()
        assert proxy.proc.poll() is None, tail(proxy.log_path)
        assert not any("SIGHUP" in l or "no gwp-" in l for l in reloader.lines), reloader.lines
    finally:
        if reloader is not None:
            reloader.stop()
        proxy.stop()


# Containerfile and systemd unit
# --------------------------------------------------------------------------------------

def test_containerfile_runs_the_proxy_as_non_root():
    stage = containerfile_final_stage()
    assert image_user() != 0
    instructions = [i for i, _ in stage]
    # USER before ENTRYPOINT: nothing after it may switch back to root.
    assert instructions.index("USER") < instructions.index("ENTRYPOINT")
    useradd = next(args for i, args in stage if i == "RUN" and "useradd" in args)
    assert f"--uid {image_user()}" in useradd
    copies = [args.split() for i, args in stage if i == "COPY"]
    assert any(c[-1] == entrypoint_binary() for c in copies), "ENTRYPOINT is not the binary the stage copies"
    # The config baked in is the default CMD's and is valid.
    cmd = yaml.safe_load(next(args for i, args in stage if i == "CMD"))
    baked = next(c for c in copies if c[-1] == cmd[cmd.index("--config") + 1])
    assert (REPO / baked[-2]).is_file()
    result = validate(REPO / baked[-2])
    assert result.returncode == 0, result.stdout + result.stderr


def test_containerfile_copies_only_what_exists():
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text())
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] == "COPY" and not parts[1].startswith("--from"):
            for source in parts[1:-1]:
                assert (REPO / source).exists(), f"Containerfile copies {source}, which is not in the repo"


def test_systemd_unit_verifies(tmp_path):
    """`systemd-analyze verify` on the unit, with the binary path pointed at the built proxy (verify insists the
    ExecStart binary exists). Any output (an unknown key is only a warning, exit 0) fails the test."""
    text = UNIT.read_text()
    assert "ExecReload=/bin/kill -HUP $MAINPID" in text
    assert re.search(r"^TimeoutStopSec=(\d+)$", text, re.M)
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is absent: the unit was not verified")
    unit = tmp_path / UNIT.name
    unit.write_text(text.replace("/usr/local/bin/grpc-web-proxy", str(require_proxy_bin())))
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not (result.stdout + result.stderr).strip(), result.stdout + result.stderr


def test_systemd_unit_stops_after_the_drain():
    text = UNIT.read_text()
    stop = int(re.search(r"^TimeoutStopSec=(\d+)$", text, re.M).group(1))
    config = yaml.safe_load(config_of("grpc-web-proxy.yaml"))
    assert stop > duration_seconds(config["drain_timeout"])


def test_demo_script_parses():
    result = subprocess.run(["bash", "-n", str(DEPLOY / "demo" / "run-demo.sh")], capture_output=True, text=True,
                            timeout=10)
    assert result.returncode == 0, result.stderr


# House-keeping (issue 12, item 7)
# --------------------------------------------------------------------------------------

# What belongs at the top of the repository. Add a name here when a new top-level file is deliberate.
TOP_LEVEL = {".ci", ".gitignore", "Benchmarks", "Fuzz", "Makefile", "Package.swift", "README.md", "Sources", "Tests",
             "config", "deploy", "docs"}


def test_no_stray_files_at_the_top_of_the_repository():
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout: the tracked files cannot be listed")
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files"], capture_output=True, text=True, timeout=30)
    assert listed.returncode == 0, listed.stderr
    top = {path.split("/", 1)[0] for path in listed.stdout.splitlines()}
    assert top <= TOP_LEVEL, f"stray files at the top of the repository: {sorted(top - TOP_LEVEL)}"


def test_user_facing_files_never_point_into_shared():
    """README, docs/, config/ and deploy/ are what a user of a clone reads: the developers' shared/ folder is not
    in it, so nothing there may send them to it."""
    pattern = re.compile(r"\.\./shared|/work/shared")
    files = [REPO / "README.md"] + [p for d in ("docs", "config", "deploy") for p in (REPO / d).rglob("*")
                                    if p.is_file()]
    offenders = []
    for path in files:
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)
