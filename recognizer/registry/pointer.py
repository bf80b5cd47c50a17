"""The active-version pointer: one small JSON file in the registry folder.

Every gunicorn worker watches this file (see ``watcher``) instead of polling the
database: a ``stat`` is cheap, needs no database connection in a background
thread, and works wherever the registry folder is shared (a Docker volume).

Format: ``{"version": "...", "model": "<version>/mnist_cnn.keras"}``, the model
path relative to the registry folder. It is written to a temporary file,
fsynced and renamed over the old one, so a reader sees the old pointer or the
new one, never half of one, and a crash never leaves no pointer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from recognizer.storage import atomic_files

POINTER_NAME = "active.json"


@dataclass(frozen=True)
class ActivePointer:
    version: str
    model_path: Path


def registry_dir() -> Path:
    return Path(settings.MODEL_REGISTRY_DIR)


def pointer_path() -> Path:
    return registry_dir() / POINTER_NAME


def read_pointer() -> ActivePointer | None:
    """The active version, or None when the registry was never set up."""
    try:
        raw = json.loads(pointer_path().read_text(encoding="utf-8"))
        return ActivePointer(str(raw["version"]), registry_dir() / raw["model"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RuntimeError(f"The model pointer {pointer_path()} is unreadable: {exc}") from exc


def pointer_stamp() -> tuple[int, int] | None:
    """(inode, mtime in ns) of the pointer: changes whenever it is replaced."""
    try:
        stat = pointer_path().stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns


def write_pointer(version: str, model_path: Path) -> None:
    folder = registry_dir()
    payload = {"version": version, "model": str(Path(model_path).relative_to(folder))}
    atomic_files.write_text(pointer_path(), json.dumps(payload))
