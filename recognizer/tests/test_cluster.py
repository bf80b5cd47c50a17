"""A real 3-node Cassandra cluster on this machine (scripts/cassandra cluster:
127.0.0.1-3, RF 3, LOCAL_QUORUM) keeps serving with a node down, and loses
nothing with two down.

Cluster node 1 needs 127.0.0.1:9042, where the single development node runs
during `make test`. So this module runs last (conftest orders it), stops the
development node, runs the cluster, stops the cluster and starts the
development node again, whatever happens.
"""

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from recognizer.storage.layout import RECORD_TABLE
from recognizer.tests.support.faults import (
    NOT_OURS,
    Stream,
    cassandra,
    managed_by_this_checkout,
    site_under_faults,
    stored_ids,
    wait_for_empty_spool,
)
from recognizer.tests.support.site_server import ROOT, SiteServer

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

HOSTS = "127.0.0.1,127.0.0.2,127.0.0.3"


def nodetool(node: int, *args: str) -> str:
    return subprocess.run(
        [str(ROOT / "scripts" / "cassandra"), "cluster", "nodetool", str(node), *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(2)


def all_up_and_normal() -> bool:
    nodes = [line for line in nodetool(1, "status").splitlines() if line[:2] in ("UN", "DN", "UJ")]
    return len(nodes) == 3 and all(line.startswith("UN") for line in nodes)


def no_pending_hints() -> bool:
    return all(
        "does not have any pending hints" in nodetool(n, "listpendinghints") for n in (1, 2, 3)
    )


CLUSTER_NODE_1_PID = ROOT / "var" / "cluster" / "node1" / "cassandra.pid"


@pytest.fixture(scope="module")
def cluster():
    single_node_was_running = managed_by_this_checkout()
    if not (single_node_was_running or CLUSTER_NODE_1_PID.is_file() or _port_9042_is_free()):
        pytest.skip(NOT_OURS)
    if single_node_was_running:
        cassandra("stop")
    try:
        cassandra("cluster", "start")
        yield
    finally:
        cassandra("cluster", "stop")
        if single_node_was_running:
            cassandra("start")


def _port_9042_is_free() -> bool:
    return subprocess.run([str(ROOT / "scripts" / "cassandra"), "status"]).returncode != 0


@pytest.fixture(scope="module")
def site(cluster):
    server = site_under_faults(
        CASSANDRA_HOSTS=HOSTS,
        CASSANDRA_REPLICATION_FACTOR="3",
        CASSANDRA_CONSISTENCY="LOCAL_QUORUM",
        # Generous: creating the keyspace waits for three busy nodes to agree.
        # A killed node costs no timeout (its connections are reset at once).
        CASSANDRA_REQUEST_TIMEOUT="10",
    )
    with server:
        yield server


def local_write_count(node: int, keyspace: str) -> int:
    stats = nodetool(node, "tablestats", f"{keyspace}.{RECORD_TABLE}")
    return int(re.search(r"Local write count: (\d+)", stats)[1])


def ownership_at_rf1(keyspace: str) -> list[float]:
    """Each node's share of the ring for ``keyspace`` (RF 1), from nodetool status."""
    shares = {}
    for line in nodetool(1, "status", keyspace).splitlines():
        match = re.match(r"UN\s+(127\.0\.0\.\d)\s.*?\s([\d.]+)%", line)
        if match:
            shares[match[1]] = float(match[2]) / 100
    return [shares[host] for host in HOSTS.split(",")]


def test_a_days_records_spread_evenly_over_the_nodes(cluster):
    """Shards are what spread an hour's writes over the nodes (before them, all
    of an hour went to one partition, so to one replica set). At RF 3 on three
    nodes every node holds every record whatever the layout, so this measures
    where each record lands at RF 1: 10,000 records over a day (24 hours of 16
    shards), written by the site's own save_record.

    Each node gets the share of the writes that it owns of the ring. At RF 1 that
    ownership is itself uneven (16 tokens a node, placed for RF 3, the first node's
    at random: 24 to 42 % was seen), so the writes are held to it, not to a third."""
    wait_until(all_up_and_normal, 120, "UN for all three nodes")
    # The site's settings on a keyspace of its own; the site itself is not started.
    spread = SiteServer(
        keyspace_prefix="spread",
        CASSANDRA_HOSTS=HOSTS,
        CASSANDRA_REPLICATION_FACTOR="1",
        CASSANDRA_CONSISTENCY="ONE",
    )
    try:
        subprocess.run(
            [sys.executable, "-m", "recognizer.tests.support.spread_writes", "10000", "24"],
            cwd=ROOT,
            env=spread.env,
            check=True,
            timeout=600,
        )
        writes = [local_write_count(node, spread.keyspace) for node in (1, 2, 3)]
        owned = ownership_at_rf1(spread.keyspace)
    finally:
        spread.drop_keyspace()
    print(f"writes per node at RF 1: {writes}; ring owned: {owned}")
    assert sum(writes) == 10_000
    # 384 partitions hashed onto the ring: a node's share of them varies by about
    # 2.5 points (one standard deviation) around what it owns. With all of an hour
    # in one partition (24 a day) it would vary by about 10 points.
    for count, share in zip(writes, owned, strict=True):
        assert abs(count / 10_000 - share) <= 0.08, (writes, owned)
    assert all(count >= 1_000 for count in writes), writes


def history_works(server: SiteServer) -> bool:
    page = server.api("/api/predictions/?limit=5")
    return len(page["results"]) == 5


def test_a_node_killed_under_load_costs_nothing_and_catches_up_when_it_returns(site):
    with Stream(site.url, clients=2) as stream:
        time.sleep(3)
        cassandra("cluster", "kill", "2")
        for _ in range(5):
            assert history_works(site)
            time.sleep(1)

    assert stream.failures == []
    assert stream.spooled() == []
    assert len(stream.answers) > 20
    assert sorted(stored_ids(site, consistency="QUORUM")) == sorted(stream.ids())

    cassandra("cluster", "start")  # brings back the killed node 2
    wait_until(all_up_and_normal, 120, "UN for all three nodes")
    # Nodes 1 and 3 kept hints for the writes node 2 missed; they hand them
    # over once they see it alive again.
    wait_until(no_pending_hints, 120, "hints to be delivered")
    assert sorted(stored_ids(site, consistency="ALL")) == sorted(stream.ids())


def test_with_two_nodes_down_writes_are_spooled_and_replayed_when_one_returns(site):
    before = set(stored_ids(site, consistency="QUORUM"))
    cassandra("cluster", "kill", "2")
    cassandra("cluster", "kill", "3")
    with Stream(site.url, clients=2) as stream:
        time.sleep(6)
        try:
            urllib.request.urlopen(f"{site.url}/healthz", timeout=60)
            healthz_status = 200
        except urllib.error.HTTPError as error:
            healthz_status = error.code
            assert json.load(error)["ok"] is False
    assert healthz_status == 503
    assert stream.failures == []
    assert stream.spooled(), "no prediction was spooled with two nodes down"

    cassandra("cluster", "start", "2")
    wait_for_empty_spool(site)
    stored = stored_ids(site, consistency="QUORUM")
    assert len(stored) == len(set(stored))
    assert set(stored) == before | set(stream.ids())
    cassandra("cluster", "start", "3")
