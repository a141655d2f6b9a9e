"""Load balancing and DNS (issue #5, part 2): round robin spreads calls evenly over real grpcio servers,
least-request (power of two choices on in-flight calls) favours a fast server over slow ones, and a host name
resolving to several addresses reaches every one of them and follows changes on each `dns_refresh`.
"""

from __future__ import annotations

import socket
import time

import pytest

from cluster_support import calls_seen, host_upstreams, hosts_file, server_ids, wait_until  # noqa: F401
from conftest import cluster, default_route


def test_round_robin_spreads_300_calls_within_10_percent(start_proxy, host_upstreams):  # noqa: F811
    ups = [host_upstreams(f"rr{i}") for i in range(3)]
    p = start_proxy(clusters=[cluster("backend", *(u.address for u in ups), load_balancing="round_robin")])
    ids, failures = server_ids(p.base_url, 300, concurrency=6)
    assert not failures, failures
    for u in ups:
        assert 90 <= ids[u.server_id] <= 110, ids
    # What the servers counted agrees with what the answers said.
    assert calls_seen(ups) == {u.server_id: ids[u.server_id] for u in ups}


def test_round_robin_over_two_workers_still_reaches_everyone(start_proxy, host_upstreams):  # noqa: F811
    ups = [host_upstreams(f"w{i}") for i in range(3)]
    p = start_proxy(clusters=[cluster("backend", *(u.address for u in ups))], top_extra={"workers": 2})
    ids, failures = server_ids(p.base_url, 120, concurrency=6)
    assert not failures, failures
    for u in ups:
        assert ids[u.server_id] >= 20, ids


@pytest.mark.timeout(90)
def test_least_request_favours_the_fast_endpoint(start_proxy, host_upstreams):  # noqa: F811
    """Two servers take 300 ms more per call than the third. With calls in flight, the slow ones hold more of
    them, so power-of-two-choices sends most calls to the fast one; round robin under the same load does not."""
    fast = host_upstreams("fast")
    slow = [host_upstreams(f"slow{i}", extra_delay_ms=300) for i in range(2)]
    addresses = [slow[0].address, fast.address, slow[1].address]
    p = start_proxy(clusters=[cluster("backend", *addresses, load_balancing="least_request")])
    # Power of two choices among three: the two slow ones are drawn together a third of the time, so the fast one
    # can get at most about two thirds; round robin gives it exactly one third.
    ids, failures = server_ids(p.base_url, 150, concurrency=12)
    assert not failures, failures
    assert ids["fast"] > 0.5 * 150, ids
    assert ids["slow0"] > 0 and ids["slow1"] > 0, f"slow endpoints still get a share: {ids}"

    rr = start_proxy(clusters=[cluster("backend", *addresses, load_balancing="round_robin")])
    ids_rr, failures = server_ids(rr.base_url, 150, concurrency=12)
    assert not failures, failures
    assert ids_rr["fast"] == 50, f"round robin ignores load: {ids_rr}"


def test_least_request_without_load_still_spreads(start_proxy, host_upstreams):  # noqa: F811
    """Sequential calls leave every endpoint at zero in flight: ties are broken at random, not always the same way."""
    ups = [host_upstreams(f"lr{i}") for i in range(3)]
    p = start_proxy(clusters=[cluster("backend", *(u.address for u in ups), load_balancing="least_request")])
    ids, failures = server_ids(p.base_url, 90)
    assert not failures, failures
    for u in ups:
        assert ids[u.server_id] >= 10, ids


@pytest.mark.timeout(90)
def test_dns_name_with_several_addresses_reaches_all_and_follows_changes(start_proxy, host_upstreams,  # noqa: F811
                                                                        itest_workdir):
    """A headless-Service-like name: one name, one port, three pod addresses (127.0.0.1-3). The proxy resolves it
    through the test-only hosts override (hidden option --test-hosts), re-reads it every dns_refresh, and follows
    the name scaling down and up again."""
    first = host_upstreams("pod1", host="127.0.0.1")
    port = first.port
    pods = [first] + [host_upstreams(f"pod{i}", host=f"127.0.0.{i}", port=port) for i in (2, 3)]
    hosts = hosts_file(itest_workdir / "routing-hosts", {"backend.test.svc": ["127.0.0.1", "127.0.0.2", "127.0.0.3"]})
    p = start_proxy(clusters=[cluster("backend", f"backend.test.svc:{port}", dns_refresh="200ms")],
                    extra_args=["--test-hosts", str(hosts)])
    ids, failures = server_ids(p.base_url, 60)
    assert not failures, failures
    assert ids == {"pod1": 20, "pod2": 20, "pod3": 20}, ids

    # Scale down: pod3 disappears from the answer; calls stop going there within a refresh or two.
    hosts_file(hosts, {"backend.test.svc": ["127.0.0.1", "127.0.0.2"]})
    assert p.wait_log(rf"cluster backend: endpoints 127\.0\.0\.1:{port}, 127\.0\.0\.2:{port} \(were", 5), p.log_text()[-2000:]
    time.sleep(0.2)  # the log line comes just before the workers get the new list
    pods[2].reset_stats()
    ids, failures = server_ids(p.base_url, 40)
    assert not failures, failures
    assert ids == {"pod1": 20, "pod2": 20}, ids
    assert calls_seen([pods[2]]) == {"pod3": 0}

    # Scale up again: the address comes back and gets its share.
    hosts_file(hosts, {"backend.test.svc": ["127.0.0.1", "127.0.0.2", "127.0.0.3"]})
    assert wait_until(lambda: p.log_text().count(f"127.0.0.3:{port} (were") >= 1, 5), p.log_text()[-2000:]
    time.sleep(0.2)
    ids, failures = server_ids(p.base_url, 60)
    assert not failures, failures
    assert ids == {"pod1": 20, "pod2": 20, "pod3": 20}, ids


def test_dns_failure_keeps_the_last_good_addresses(start_proxy, host_upstreams, itest_workdir):  # noqa: F811
    u = host_upstreams("kept")
    hosts = hosts_file(itest_workdir / "routing-hosts-2", {"flaky.test.svc": ["127.0.0.1"]})
    p = start_proxy(clusters=[cluster("backend", f"flaky.test.svc:{u.port}", dns_refresh="200ms")],
                    extra_args=["--test-hosts", str(hosts)])
    assert server_ids(p.base_url, 3)[0] == {"kept": 3}
    # The name vanishes from the override and real DNS does not know it either: keep using what worked.
    hosts_file(hosts, {"other.test.svc": ["127.0.0.1"]})
    assert p.wait_log(r"cannot resolve flaky\.test\.svc.*keeping its last 1 address", 5), p.log_text()[-2000:]
    ids, failures = server_ids(p.base_url, 5)
    assert not failures and ids == {"kept": 5}, (ids, failures)


def test_localhost_reaches_every_address_it_resolves_to(start_proxy, host_upstreams):  # noqa: F811
    """Real resolution (no override): servers on 127.0.0.1 and [::1] share a port; `localhost:port` must reach
    every address getaddrinfo gives for localhost here (both on dual-stack hosts, 127.0.0.1 alone on others)."""
    v4 = host_upstreams("v4", host="127.0.0.1")
    try:
        v6 = host_upstreams("v6", host="[::1]", port=v4.port)
    except RuntimeError:
        pytest.skip("cannot bind [::1] here")
    resolved = {ai[4][0] for ai in socket.getaddrinfo("localhost", v4.port, type=socket.SOCK_STREAM)}
    expected = {{"127.0.0.1": "v4", "::1": "v6"}[a] for a in resolved if a in ("127.0.0.1", "::1")}
    assert expected, resolved
    p = start_proxy(routes=[default_route()], clusters=[cluster("backend", f"localhost:{v4.port}")])
    ids, failures = server_ids(p.base_url, 20)
    assert not failures, failures
    assert set(ids) == expected, (ids, resolved)
    if len(expected) == 2:
        assert ids["v4"] == ids["v6"] == 10, ids
    _ = v6
