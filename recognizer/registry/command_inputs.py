"""Argument types and data loading shared by the registry's commands."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, time
from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError
from django.utils.dateparse import parse_date, parse_datetime

from recognizer.recognition.mnist_data import MnistData, MnistDataError, load_mnist
from recognizer.registry import corrections_data
from recognizer.storage.records import StorageUnavailable


def moment(text: str) -> datetime:
    """--since: an ISO date (midnight UTC) or date and time (UTC unless it says)."""
    parsed = parse_datetime(text)
    if parsed is None:
        day = parse_date(text)
        if day is None:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a date (2026-11-25) or date and time (2026-11-25T18:00)."
            )
        parsed = datetime.combine(day, time())
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def mnist(data_dir: Path | None) -> MnistData:
    try:
        return load_mnist(data_dir or Path(settings.MNIST_DATA_DIR))
    except MnistDataError as exc:
        raise CommandError(str(exc)) from None


def corrections(npz: Path | None, since: datetime | None) -> corrections_data.CorrectionSet:
    """From an exported .npz when given, else from Cassandra."""
    try:
        if npz is not None:
            return corrections_data.load_npz(npz)
        return corrections_data.from_cassandra(since)
    except corrections_data.CorrectionsError as exc:
        raise CommandError(str(exc)) from None
    except StorageUnavailable as exc:
        raise CommandError(f"Cannot read the corrections: {exc}") from None
