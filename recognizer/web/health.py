"""What /healthz and the home page report: is the model loaded, is Cassandra answering."""

from recognizer.recognition import predictor
from recognizer.storage import records, spool


def cassandra_status() -> dict:
    try:
        version = records.cassandra_version()
    except records.StorageUnavailable as exc:
        return {"ok": False, "detail": str(exc)}
    return {"ok": True, "detail": f"Cassandra {version}"}


def model_status() -> dict:
    # Loads the model if this process has not yet (gunicorn workers have).
    try:
        info = predictor.get_predictor().info()
    except predictor.ModelUnavailable as exc:
        return {"ok": False, "detail": str(exc)}
    return {"ok": True, "detail": info}


def health_report() -> dict:
    """Model and Cassandra decide ``ok``; records waiting in the spool are
    reported but do not fail the check (they drain once Cassandra is back)."""
    report = {"model": model_status(), "cassandra": cassandra_status()}
    report["ok"] = all(part["ok"] for part in report.values())
    report["spool"] = {"pending": spool.pending_count()}
    return report
