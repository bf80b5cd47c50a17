"""How many shards the records table was created with.

The count lives in the table's own comment ("shards:16 ..."), written when
sync_cassandra creates the table: it goes wherever the table goes (a backup, a
restored snapshot) and disappears with it, so it can never describe another
table. Changing CASSANDRA_SHARDS later must not move a record to another
shard, or it could no longer be found by its id; sync_cassandra refuses to.
"""

import re

from recognizer.storage.models import PredictRecord

RECORD_TABLE = PredictRecord.__table_name__
# The table of the layout before shards, whose records sync_cassandra copies.
OLD_RECORD_TABLE = "predict_record"

_COMMENT = re.compile(r"\bshards:(\d+)\b")


def comment_for(shards: int) -> str:
    # No "=" in it: cqlengine splits the table's options at "=" when it compares them.
    return f"shards:{shards} (a record's shard is record_ids.shard_of(id, {shards}))"


def shards_in(comment: str | None) -> int | None:
    match = _COMMENT.search(comment or "")
    return int(match[1]) if match else None


def table_comment(session, keyspace: str, table: str = RECORD_TABLE) -> str | None:
    """The table's comment ("" when it has none); None when there is no such table."""
    row = session.execute(
        "SELECT comment FROM system_schema.tables WHERE keyspace_name = %s AND table_name = %s",
        [keyspace, table],
    ).one()
    return None if row is None else (row["comment"] or "")


def table_exists(session, keyspace: str, table: str) -> bool:
    return table_comment(session, keyspace, table) is not None
