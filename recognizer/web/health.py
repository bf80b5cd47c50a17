"""What /healthz and the status page report: can predictions be made, stored
and read, and what waits in the spool."""

from pathlib import Path

from django.conf import settings

from recognizer.recognition import predictor
from recognizer.storage import records, spool


def cassandra_status() -> dict:
    """A real write and read of the probe record (records.probe), not a ping."""
    try:
        detail = records.probe()
    except records.StorageUnavailable as exc:
        return {"ok": False, "detail": str(exc)}
    return {"ok": True, "detail": detail}


def model_status() -> dict:
    # Loads the model if this process has not yet (gunicorn workers have).
    try:
        info = predictor.get_predictor().info()
    except predictor.ModelUnavailable as exc:
        return {"ok": False, "detail": _without_path(str(exc))}
    # No filesystem paths: /healthz is public, and paths help only an attacker.
    return {"ok": True, "detail": {k: v for k, v in info.items() if k != "path"}}


def _without_path(message: str) -> str:
    model_path = Path(settings.MODEL_PATH)
    return message.replace(str(model_path), model_path.name)


def spool_status() -> dict:
    waiting = spool.backlog()
    age = waiting.oldest_age_seconds
    return {"pending": waiting.pending, "oldest_age_seconds": None if age is None else round(age)}


def health_report() -> dict:
    """Model and Cassandra decide ``ok``; records waiting in the spool are
    reported but do not fail the check (they drain once Cassandra is back)."""
    report = {"model": model_status(), "cassandra": cassandra_status()}
    report["ok"] = all(part["ok"] for part in report.values())
    report["spool"] = spool_status()
    return report
