"""The admin dashboard in a real headless Chromium (issue 12, item 5): the page at `/` loads while a client runs OK
and failing calls, polls `/stats.json` every second, and draws charts. Checked three ways: what the page says it
drew (`document.body.dataset.points`, `window.dashboard`), the pixels of a screenshot inside the chart canvases
(decoded here with zlib), and the totals of the JSON it polled against `/metrics`.

Chromium is driven over the DevTools protocol (its `--remote-debugging-port`, a WebSocket) so the page runs in
real time against real traffic; `DASHBOARD_SCREENSHOT=path` keeps the screenshot (docs/images/dashboard.png is
made that way, with `DASHBOARD_POLLS=75` for a minute and more of history)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import struct
import subprocess
import tempfile
import threading
import time
import urllib.request
import zlib
from pathlib import Path

import pytest
from websockets.sync.client import connect

from browser.harness import BrowserHarness, find_chromium
from cluster_support import wait_until
from conftest import cluster, default_route, free_port
from grpcweb_client import call
from test_ops_metrics import pick, scrape

UNARY = "/test.Echo/Unary"
STREAM = "/test.Echo/ServerStream"
PANEL_BACKGROUND = (0xF8, 0xF9, 0xFB)


# --------------------------------------------------------------------------------------
# Chromium over the DevTools protocol
# --------------------------------------------------------------------------------------


class DevToolsPage:
    """One headless Chromium showing `url`, and a DevTools WebSocket to its page."""

    def __init__(self, chromium: str, url: str, allowed_ports: list[int], profile: Path) -> None:
        self.log_path = profile / "chromium.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                 "--no-first-run", "--no-default-browser-check", "--disable-extensions",
                 "--disable-background-networking", "--disable-dev-shm-usage", "--disable-component-update",
                 "--remote-debugging-port=0", "--window-size=1280,900", "--force-device-scale-factor=1",
                 "--hide-scrollbars", f"--explicitly-allowed-ports={','.join(map(str, allowed_ports))}", url],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self._next_id = 0
        try:
            port_file = profile / "DevToolsActivePort"
            assert wait_until(lambda: port_file.exists() and port_file.read_text().strip(), 30), self.output()
            port = int(port_file.read_text().split()[0])

            def page_target():
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                    pages = [t for t in json.load(r) if t.get("type") == "page"]
                return pages[0] if pages else None
            assert wait_until(lambda: page_target() is not None, 10), self.output()
            self._stack = contextlib.ExitStack()
            self.ws = self._stack.enter_context(connect(page_target()["webSocketDebuggerUrl"], max_size=None, open_timeout=10))
        except BaseException:
            self.close()
            raise

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def command(self, method: str, **params) -> dict:
        self._next_id += 1
        self.ws.send(json.dumps({"id": self._next_id, "method": method, "params": params}))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            message = json.loads(self.ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == self._next_id:
                assert "error" not in message, message
                return message["result"]
        raise AssertionError(f"no answer to {method}")

    def evaluate(self, expression: str):
        result = self.command("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def screenshot(self) -> bytes:
        import base64
        return base64.b64decode(self.command("Page.captureScreenshot", format="png")["data"])

    def close(self) -> None:
        if getattr(self, "_stack", None) is not None:
            self._stack.close()
        BrowserHarness._kill(self.proc)


# --------------------------------------------------------------------------------------
# PNG decoding (8-bit RGB or RGBA, what Chromium writes)
# --------------------------------------------------------------------------------------


def decode_png(data: bytes) -> tuple[int, int, list[bytearray], int]:
    """(width, height, rows of raw pixel bytes, bytes per pixel)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, bpp = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and color in (2, 6) and interlace == 0, (depth, color, interlace)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, previous = [], bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - bpp] if i >= bpp else 0
            up = previous[i]
            up_left = previous[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + ((left + up) >> 1)) & 0xFF
            elif kind == 4:
                p = left + up - up_left
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - up_left)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else up_left)) & 0xFF
        rows.append(line)
        previous = line
    return width, height, rows, bpp


def colored_pixels(png: tuple, rect: dict) -> int:
    """Pixels inside `rect` (CSS px = screenshot px at scale 1) that are neither the panel's background nor grey
    (the axis line): what the chart's series drew."""
    width, height, rows, bpp = png
    count = 0
    for y in range(max(0, int(rect["y"])), min(height, int(rect["y"] + rect["height"]))):
        row = rows[y]
        for x in range(max(0, int(rect["x"])), min(width, int(rect["x"] + rect["width"]))):
            r, g, b = row[x * bpp], row[x * bpp + 1], row[x * bpp + 2]
            if (r, g, b) != PANEL_BACKGROUND and max(r, g, b) - min(r, g, b) > 40:
                count += 1
    return count


# --------------------------------------------------------------------------------------
# The test
# --------------------------------------------------------------------------------------


class Traffic(threading.Thread):
    """OK unary calls with varied latency, every fifth failing (UNAVAILABLE), a few server streams (one in three
    failing with ABORTED), until stopped."""

    def __init__(self, base_url: str) -> None:
        super().__init__(name="dashboard-traffic", daemon=True)
        self.base_url = base_url
        self.stop = threading.Event()
        self.calls = 0
        self.errors: list[BaseException] = []

    def run(self) -> None:
        try:
            i = 0
            while not self.stop.is_set():
                i += 1
                md = {"x-delay-ms": str((i * 7) % 40)}
                if i % 5 == 0:
                    md = {"x-fail-code": "14", "x-fail-message": "backend overloaded"}
                expected = 14 if i % 5 == 0 else 0
                assert call(self.base_url, UNARY, [b"d%d" % i], metadata=md, timeout_s=10).grpc_status == expected
                if i % 4 == 0:
                    fail = i % 12 == 0
                    md = {"x-stream-count": "2", **({"x-fail-code": "10"} if fail else {})}
                    assert call(self.base_url, STREAM, [b"s"], metadata=md, timeout_s=10).grpc_status == (10 if fail else 0)
                    self.calls += 1
                self.calls += 1
        except BaseException as e:  # reported by the test
            self.errors.append(e)


@pytest.mark.timeout(240)
def test_dashboard_draws_live_charts_from_the_json_it_polls(start_proxy, upstream, itest_workdir):
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no chromium on PATH (set $CHROMIUM)")
    dead = f"127.0.0.1:{free_port()}"
    checks = {"interval": "200ms", "timeout": "150ms", "unhealthy_threshold": 2, "healthy_threshold": 1}
    proxy = start_proxy(
        routes=[{"name": "echo.unary", "method": "test.Echo/Unary", "cluster": "backend"}, default_route()],
        clusters=[cluster("backend", upstream.address, dead, health_check=checks)],
        top_extra={"workers": 2})
    traffic = Traffic(proxy.base_url)
    traffic.start()
    profile = Path(tempfile.mkdtemp(prefix="dashboard-chromium-"))
    page = None
    try:
        page = DevToolsPage(chromium, f"{proxy.admin_url}/", [proxy.admin_port], profile)

        def drawn() -> dict:
            return page.evaluate("""({polls: window.dashboard ? window.dashboard.polls : 0,
                points: Number((document.body && document.body.dataset.points) || 0),
                failedRows: document.querySelectorAll('#failed tr[data-status]').length,
                endpoints: [...document.querySelectorAll('#clusters tr[data-endpoint]')].map(r => [r.dataset.endpoint, r.dataset.state])})""")

        # Eight polls: seven deltas per chart, and the dead endpoint's health checks have failed by then.
        polls = max(8, int(os.environ.get("DASHBOARD_POLLS", "8")))
        assert wait_until(lambda: drawn()["polls"] >= polls, polls * 2 + 30, 0.2), (drawn(), page.output())
        assert not traffic.errors, traffic.errors
        state = drawn()
        assert state["points"] >= 8 * 3, state
        assert state["failedRows"] > 0, state
        assert dict(state["endpoints"]) == {upstream.address: "healthy", dead: "unhealthy"}, state
        assert page.evaluate("document.title").startswith("grpc-web-proxy dashboard · ")

        # The series the page computed: calls/s above zero, some non-OK share, latencies within the delays used.
        series = page.evaluate("""Object.fromEntries([...window.dashboard.routes.values()].map(e =>
            [e.route, {calls: e.calls.map(p => p[1]), errors: e.errors.map(p => p[1]), p50: e.p50.map(p => p[1]),
                       p99: e.p99.map(p => p[1])}]))""")
        unary = series["echo.unary"]
        assert len(unary["calls"]) >= 7 and max(unary["calls"]) > 1, unary
        assert 0 < max(unary["errors"]) <= 100 and unary["p50"] and max(unary["p99"]) < 1000, unary
        assert max(series["prefix:/"]["calls"]) > 0, series

        # The screenshot shows the charts: coloured pixels inside the echo.unary row's three canvases.
        rects = page.evaluate("""[...document.querySelectorAll('.route[data-route="echo.unary"] canvas')].map(c => {
            const r = c.getBoundingClientRect(); return {x: r.x, y: r.y, width: r.width, height: r.height}; })""")
        assert len(rects) == 3, rects
        shot = page.screenshot()
        (itest_workdir / "dashboard.png").write_bytes(shot)
        if os.environ.get("DASHBOARD_SCREENSHOT"):
            Path(os.environ["DASHBOARD_SCREENSHOT"]).write_bytes(shot)
        png = decode_png(shot)
        assert png[0] == 1280, png[:2]
        for name, rect in zip(["calls/s", "non-OK %", "latency"], rects):
            assert colored_pixels(png, rect) > 50, f"{name} chart is empty in the screenshot ({rect})"

        # Traffic stops; once the page has polled twice more, the totals it holds equal /metrics'.
        traffic.stop.set()
        traffic.join(30)
        assert not traffic.errors, traffic.errors
        assert wait_until(lambda: pick(scrape(proxy), "grpcwebproxy_calls_total") == traffic.calls, 5)
        metrics = scrape(proxy)
        polls = drawn()["polls"]
        assert wait_until(lambda: drawn()["polls"] >= polls + 2, 10, 0.1)
        last = page.evaluate("window.dashboard.last")
        for row in last["routes"]:
            labels = {"route": row["route"], "cluster": row["cluster"]}
            assert row["calls"] == pick(metrics, "grpcwebproxy_calls_total", **labels), row
            assert row["errors"] == row["calls"] - pick(metrics, "grpcwebproxy_calls_total", grpc_status="0", **labels)
            assert sum(row["buckets"]) == pick(metrics, "grpcwebproxy_call_duration_seconds_count", **labels)
        assert sum(r["calls"] for r in last["routes"]) == traffic.calls
        assert {f["grpc_status"] for f in last["recent_failed_calls"]} <= {14, 10}
        assert any(f["grpc_message"] == "backend overloaded" for f in last["recent_failed_calls"])
    finally:
        traffic.stop.set()
        if page is not None:
            page.close()
        shutil.rmtree(profile, ignore_errors=True)
