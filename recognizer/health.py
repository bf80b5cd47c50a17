"""What /healthz and the status page report: is the model loaded, is Cassandra answering."""

from dataclasses import dataclass

from recognizer import storage


@dataclass(frozen=True)
class ComponentStatus:
    ok: bool
    detail: str


def cassandra_status() -> ComponentStatus:
    try:
        version = storage.cassandra_version()
    except storage.StorageUnavailable as exc:
        return ComponentStatus(False, str(exc))
    return ComponentStatus(True, f"Cassandra {version}")
