"""The registry's operations: seed, add a candidate, promote, roll back, list.

Commands and the admin call these functions; nothing else changes a version's
status. Each status change updates the table and the active pointer (which the
web workers watch) in one database transaction: the pointer is written last,
before the commit, so a failed write leaves the table unchanged.

Folder layout (settings.MODEL_REGISTRY_DIR, default var/models)::

    active.json                      the pointer
    <version>/mnist_cnn.keras        the model
    <version>/mnist_cnn.json         its metadata (version, metrics, data, gate report)
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from recognizer.registry.models import ModelVersion
from recognizer.registry.pointer import registry_dir, write_pointer

MODEL_FILE = "mnist_cnn.keras"


class RegistryError(Exception):
    """A registry operation that cannot be done, with a message for a person."""


def version_folder(version: str) -> Path:
    return registry_dir() / version


def model_path(entry: ModelVersion) -> Path:
    return registry_dir() / entry.model_file


def ensure_seeded() -> None:
    """On first use, register the shipped model (MNIST_MODEL_PATH) as the active version."""
    if ModelVersion.objects.exists():
        return
    from recognizer.recognition.predictor import read_metadata

    shipped = Path(settings.MODEL_PATH)
    if not shipped.is_file():
        raise RegistryError(f"The shipped model {shipped} does not exist: nothing to seed from.")
    metadata = read_metadata(shipped)
    version = str(metadata.get("version") or "shipped")
    folder = version_folder(version)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(shipped, folder / MODEL_FILE)
    if shipped.with_suffix(".json").is_file():
        shutil.copy2(shipped.with_suffix(".json"), (folder / MODEL_FILE).with_suffix(".json"))
    with transaction.atomic():
        entry = ModelVersion.objects.create(
            version=version,
            status=ModelVersion.ACTIVE,
            origin="shipped",
            model_file=f"{version}/{MODEL_FILE}",
            mnist_test_accuracy=metadata.get("test_accuracy"),
            metadata=metadata,
            activated_at=timezone.now(),
        )
        write_pointer(entry.version, model_path(entry))


def active_version() -> ModelVersion:
    ensure_seeded()
    entry = ModelVersion.objects.filter(status=ModelVersion.ACTIVE).first()
    if entry is None:
        raise RegistryError("No version is active: promote one with `manage.py promote_model`.")
    return entry


def add_candidate(
    version: str,
    origin: str,
    metadata: dict[str, Any],
    gate_report: dict[str, Any],
    parent: str = "",
) -> ModelVersion:
    """Register a model already written to ``version_folder(version)/MODEL_FILE``."""
    return ModelVersion.objects.create(
        version=version,
        status=ModelVersion.CANDIDATE,
        origin=origin,
        model_file=f"{version}/{MODEL_FILE}",
        parent=parent,
        mnist_test_accuracy=gate_report.get("candidate", {}).get("mnist_test_accuracy"),
        corrections_accuracy=gate_report.get("candidate", {}).get("corrections_accuracy"),
        gate_passed=gate_report.get("passed"),
        gate_report=gate_report,
        metadata=metadata,
    )


def get(version: str) -> ModelVersion:
    ensure_seeded()
    try:
        return ModelVersion.objects.get(version=version)
    except ModelVersion.DoesNotExist:
        raise RegistryError(f"There is no model version {version!r}.") from None


@transaction.atomic
def promote(version: str, force: bool = False) -> ModelVersion:
    """Make ``version`` the active one. Refused when its gate failed, unless ``force``."""
    entry = get(version)
    if entry.status == ModelVersion.ACTIVE:
        raise RegistryError(f"{version} is already the active version.")
    if entry.gate_passed is False and not force:
        reasons = "; ".join(entry.gate_report.get("reasons", [])) or "see its gate report"
        raise RegistryError(f"{version} failed the gate ({reasons}); use --force to promote it.")
    if not model_path(entry).is_file():
        raise RegistryError(f"The model file of {version} is missing: {model_path(entry)}")
    _activate(entry)
    return entry


@transaction.atomic
def rollback() -> ModelVersion:
    """Retire the active version and bring back the one that was active before it."""
    current = active_version()
    previous = (
        ModelVersion.objects.filter(
            status=ModelVersion.RETIRED, activated_at__isnull=False, rolled_back_at__isnull=True
        )
        .order_by("-activated_at")
        .first()
    )
    if previous is None:
        raise RegistryError("There is no earlier active version to roll back to.")
    current.rolled_back_at = timezone.now()
    current.save(update_fields=["rolled_back_at"])
    _activate(previous)
    return previous


def _activate(entry: ModelVersion) -> None:
    now = timezone.now()
    ModelVersion.objects.filter(status=ModelVersion.ACTIVE).update(status=ModelVersion.RETIRED)
    entry.status = ModelVersion.ACTIVE
    entry.activated_at = now
    entry.rolled_back_at = None
    entry.save(update_fields=["status", "activated_at", "rolled_back_at"])
    write_pointer(entry.version, model_path(entry))


def listing() -> list[ModelVersion]:
    ensure_seeded()
    return list(ModelVersion.objects.all())


def as_json(entry: ModelVersion) -> dict[str, Any]:
    return {
        "version": entry.version,
        "status": entry.status,
        "origin": entry.origin,
        "parent": entry.parent or None,
        "mnist_test_accuracy": entry.mnist_test_accuracy,
        "corrections_accuracy": entry.corrections_accuracy,
        "gate_passed": entry.gate_passed,
        "gate_report": entry.gate_report,
        "created_at": entry.created_at.isoformat(),
        "activated_at": entry.activated_at.isoformat() if entry.activated_at else None,
        "model_file": str(model_path(entry)),
    }
