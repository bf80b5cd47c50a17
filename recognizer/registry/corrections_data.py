"""Corrections as training data: 28x28 images, labels and who gave them.

Read from Cassandra (the ``correction`` table, then each corrected record for
its image) or from an ``.npz`` file that ``export_corrections`` wrote, so a
retraining run can be repeated on exactly the same data elsewhere.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from recognizer.recognition.pipeline import model_inputs_of
from recognizer.storage import corrections, records

NPZ_KEYS = ("images", "labels", "clients", "record_ids")


class CorrectionsError(Exception):
    """Corrections cannot be read (a bad file), with a message for a person."""


@dataclass(frozen=True)
class CorrectionSet:
    images: np.ndarray  # (N, 28, 28) uint8, white digit on black, as the model saw it
    labels: np.ndarray  # (N,) int64, the digit the person said it was
    clients: np.ndarray  # (N,) str, who corrected it (the hold-out unit)
    record_ids: np.ndarray  # (N,) str

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, mask: np.ndarray) -> CorrectionSet:
        return CorrectionSet(
            self.images[mask], self.labels[mask], self.clients[mask], self.record_ids[mask]
        )

    def sha256(self) -> str:
        """A fingerprint of the data itself (images, labels, clients, in order)."""
        digest = hashlib.sha256()
        digest.update(np.ascontiguousarray(self.images, dtype=np.uint8).tobytes())
        digest.update(np.asarray(self.labels, dtype=np.int64).tobytes())
        digest.update("\n".join(map(str, self.clients)).encode())
        return digest.hexdigest()


def empty() -> CorrectionSet:
    return CorrectionSet(
        np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64), np.array([], str), np.array([], str)
    )


def from_cassandra(since: datetime | None = None) -> CorrectionSet:
    """The current label of every record corrected since ``since``, oldest first.

    The newest correction of a record wins; a withdrawn one (null) drops it. A
    corrected number gives one example per digit: the 28x28 input the model saw for
    each segmented digit, labelled with the corrected digit at its place, but only
    when the correction has as many digits as were segmented (otherwise the pieces
    cannot be matched to the digits, and the record is left out).
    """
    latest = {}
    for row in corrections.since(since):  # newest first
        latest.setdefault(row.record_id, row)
    images, labels, clients, ids = [], [], [], []
    for row in sorted(latest.values(), key=lambda row: row.id.time):
        number = corrected_number(row)
        if number is None:
            continue
        record = records.get_record(row.record_id)
        if record is None or record.image is None:
            continue
        pieces = model_inputs_of(record.image)
        if len(pieces) != len(number):
            continue
        images += pieces
        labels += [int(char) for char in number]
        clients += [row.corrected_by] * len(number)
        ids += [str(row.record_id)] * len(number)
    if not labels:
        return empty()
    return CorrectionSet(np.stack(images), np.array(labels), np.array(clients), np.array(ids))


def corrected_number(row) -> str | None:
    """The number a correction row gives; rows written before numbers only have label."""
    if row.number is not None:
        return row.number
    return None if row.label is None else str(row.label)


def save_npz(data: CorrectionSet, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as out:
        np.savez_compressed(
            out,
            images=data.images,
            labels=data.labels,
            clients=data.clients.astype(str),
            record_ids=data.record_ids.astype(str),
        )


def load_npz(path: Path) -> CorrectionSet:
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in NPZ_KEYS}
    except FileNotFoundError:
        raise CorrectionsError(f"{path} does not exist.") from None
    except KeyError as exc:
        raise CorrectionsError(
            f"{path} lacks the array {exc} (written by export_corrections?)."
        ) from None
    except (OSError, ValueError) as exc:
        raise CorrectionsError(f"{path} is not a readable .npz file ({exc}).") from None
    images = arrays["images"]
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) != len(arrays["labels"]):
        raise CorrectionsError(f"{path}: images must be N x 28 x 28 with one label each.")
    return CorrectionSet(
        images.astype(np.uint8),
        arrays["labels"].astype(np.int64),
        arrays["clients"],
        arrays["record_ids"],
    )
