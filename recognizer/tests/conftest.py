"""Shared fixtures. Storage tests run against the real Cassandra server that
`make test` starts, in a keyspace (test_<CASSANDRA_KEYSPACE>) that the test run
creates with sync_cassandra and drops at the end."""

import pytest
from django.db import connections

from recognizer.routers import CASSANDRA_ALIAS

# Tests that read or write prediction records use both databases: Django's
# relational one (sessions, admin) and Cassandra.
BOTH_DATABASES = ["default", CASSANDRA_ALIAS]


@pytest.fixture
def cql():
    """A raw CQL session on the test keyspace, to check what really got stored."""
    connection = connections[CASSANDRA_ALIAS]
    connection.connect()
    session = connection.connection.session
    session.set_keyspace(connection.settings_dict["NAME"])
    return session


@pytest.fixture
def keyspace() -> str:
    return connections[CASSANDRA_ALIAS].settings_dict["NAME"]
