"""Nothing answered is lost when Cassandra goes down: the real server, the real
Cassandra stopped and started again under a steady stream of predictions.

It stops the shared development Cassandra, so conftest runs it last, and it
always starts Cassandra again.
"""

import time

import pytest

from recognizer.tests.support.faults import (
    NOT_OURS,
    Stream,
    cassandra,
    managed_by_this_checkout,
    site_under_faults,
    stored_ids,
    wait_for_empty_spool,
)

pytestmark = pytest.mark.outage


def test_every_answered_prediction_reaches_cassandra_exactly_once_after_an_outage():
    if not managed_by_this_checkout():
        pytest.skip(NOT_OURS)
    server = site_under_faults()  # default timeouts: schema creation on a busy machine needs them
    with server:
        with Stream(server.url, clients=1) as stream:
            try:
                time.sleep(3)
                cassandra("stop")
                time.sleep(8)
                during_outage = len(stream.answers)
                assert server.health()["ok"] is False  # /healthz says Cassandra is down
            finally:
                cassandra("start")
            time.sleep(4)

        assert stream.failures == []
        assert stream.spooled(), "no prediction was spooled"
        assert during_outage > 10
        wait_for_empty_spool(server)

        stored = stored_ids(server)
        assert len(stored) == len(set(stored))
        assert set(stored) == set(stream.ids())
