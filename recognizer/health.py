"""What /healthz and the home page report: is the model loaded, is Cassandra answering."""

from recognizer import predictor, storage


def cassandra_status() -> dict:
    try:
        version = storage.cassandra_version()
    except storage.StorageUnavailable as exc:
        return {"ok": False, "detail": str(exc)}
    return {"ok": True, "detail": f"Cassandra {version}"}


def model_status() -> dict:
    try:
        info = predictor.model_info()
    except predictor.ModelUnavailable as exc:
        return {"ok": False, "detail": str(exc)}
    return {"ok": bool(info.get("loaded")), "detail": info}


def health_report() -> dict:
    report = {"model": model_status(), "cassandra": cassandra_status()}
    report["ok"] = all(part["ok"] for part in report.values())
    return report
