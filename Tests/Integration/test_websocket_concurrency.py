"""Many simultaneous grpc-websockets calls on one proxy: none may be lost, mixed up or stalled."""

from __future__ import annotations

import asyncio
import time

import pytest
from websockets.asyncio.client import connect

from ws_client import SUBPROTOCOL, ResponseAssembler, data_message, metadata_block, ws_url, HALF_CLOSE, supported_kwargs, wait_for

pytestmark = pytest.mark.timeout(120)

_EXTRA = supported_kwargs(connect.__init__, proxy=None)
CALLS = 200
ROUNDS = 5


async def one_call(url: str, idx: int) -> tuple[int, float]:
    """Opens a bidi call, does ROUNDS ping-pongs with call-specific payloads, half-closes, returns (status, secs)."""
    start = time.monotonic()
    async with connect(url, subprotocols=[SUBPROTOCOL], compression=None, max_size=None,
                       ping_interval=None, open_timeout=30, close_timeout=10, **_EXTRA) as ws:
        asm = ResponseAssembler()
        await ws.send(metadata_block({"x-call-index": str(idx)}))
        for r in range(ROUNDS):
            msg = f"call {idx} round {r}".encode() * (1 + idx % 7)
            await ws.send(data_message(msg))
            while True:
                pending = asm.take_pending()
                if pending:
                    assert pending == [msg], (idx, r, pending)
                    break
                asm.feed(await asyncio.wait_for(ws.recv(), 30))
        await ws.send(HALF_CLOSE)
        try:
            while True:
                asm.feed(await asyncio.wait_for(ws.recv(), 30))
        except Exception as e:  # ConnectionClosed ends the call
            if not type(e).__name__.startswith("ConnectionClosed"):
                raise
        result = asm.finish(ws.close_code, ws.close_reason or "")
    assert result.close_code == 1000, (idx, result.close_code)
    return result.grpc_status, time.monotonic() - start


async def run_all(url: str) -> list:
    return await asyncio.gather(*(one_call(url, i) for i in range(CALLS)), return_exceptions=True)


def test_two_hundred_concurrent_bidi_calls(proxy, upstream):
    url = ws_url(proxy.base_url, "/test.Echo/Bidi")
    results = asyncio.run(run_all(url))
    failures = [(i, r) for i, r in enumerate(results) if isinstance(r, BaseException) or r[0] != 0]
    assert not failures, f"{len(failures)} of {CALLS} calls failed; first: {failures[:3]}"
    # The proxy keeps serving afterwards, and no call was left running upstream.
    status, _ = asyncio.run(one_call(url, 9999))
    assert status == 0
    assert wait_for(lambda: upstream.stats()["active"] == 0, 3.0), upstream.stats()["active"]
