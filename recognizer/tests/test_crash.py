"""Nothing answered is lost when Cassandra crashes: the real site (2 gunicorn
workers) under a stream of predictions, the Cassandra JVM SIGKILLed, then
started again with scripts/cassandra start.

A crash is not a stop: no drain, no flush, memtables gone. What survives is
what the commit log holds, and what the spool holds. It kills the shared
development Cassandra, so conftest runs it last, and it always starts it again.
"""

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from recognizer.tests.support.faults import (
    NOT_OURS,
    Stream,
    cassandra,
    managed_by_this_checkout,
    post_prediction,
    prediction_body,
    site_under_faults,
    stored_ids,
    wait_for_empty_spool,
)

pytestmark = [pytest.mark.crash, pytest.mark.slow]


def write_records(url: str, count: int) -> list[uuid.UUID]:
    body = prediction_body()
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: post_prediction(url, body), range(count)))
    assert not any(answer["spooled"] for answer in answers)
    return [uuid.UUID(answer["id"]) for answer in answers]


def test_every_answered_prediction_survives_a_sigkill_of_cassandra():
    if not managed_by_this_checkout():
        pytest.skip(NOT_OURS)
    # The driver's default timeouts: a killed JVM's connections are reset at
    # once, so they cost nothing here, and schema creation on a busy machine
    # needs them.
    server = site_under_faults()
    with server:
        old = write_records(server.url, 1000)
        with Stream(server.url, clients=2) as stream:
            try:
                time.sleep(3)
                kill_asked_at = time.monotonic()
                cassandra("kill")
                killed_at = time.monotonic()
                time.sleep(3)
            finally:
                cassandra("start")
            time.sleep(3)

        just_before = [
            uuid.UUID(answer["id"])
            for at, answer in stream.answers
            if kill_asked_at - 2 <= at <= killed_at and not answer["spooled"]
        ]
        assert stream.failures == []
        assert just_before, "no prediction was stored in the 2 s before the kill"
        assert stream.spooled(), "no prediction was spooled while Cassandra was down"
        wait_for_empty_spool(server)

        stored = stored_ids(server)
        assert len(stored) == len(set(stored)), "a record is stored twice"
        answered = set(old) | set(stream.ids())
        assert answered - set(stored) == set(), "answered predictions were lost"
        assert set(stored) == answered
        # Readable through the site too, not only present in the table.
        for record_id in [old[0], just_before[-1], stream.spooled()[-1]]:
            assert server.api(f"/api/predictions/{record_id}/")["id"] == str(record_id)
