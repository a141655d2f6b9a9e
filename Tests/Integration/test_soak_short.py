"""The soak (Tests/Soak/soak.py) on a small count, so `make test` runs it: 4,000 mixed calls (unary, streams, text,
WebSocket, cancels, deadlines, slow readers, GOAWAY, RST, 503) while one of two upstreams is killed and restarted
twice with streams open through it; every call must end as its kind expects (or as a kill explains), and the proxy's
fds, connections, active calls, buffered bytes, timers and RSS must be back at the warmed-up baseline."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import REPO, require_proxy_bin

SOAK = REPO / "Tests" / "Soak" / "soak.py"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_soak_short():
    binary = require_proxy_bin()
    cmd = [sys.executable, str(SOAK), "--calls", "4000", "--warmup", "600", "--kills", "2", "--proxy-bin", str(binary)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=dict(os.environ))
    assert r.returncode == 0, f"soak exited with {r.returncode}:\n{r.stdout[-12000:]}\n{r.stderr[-4000:]}"
