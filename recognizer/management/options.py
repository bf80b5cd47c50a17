"""Options that several management commands share, defined once."""

from pathlib import Path

from django.core.management.base import CommandParser


def positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


def non_negative_int(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(value)
    return number


def positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError(value)
    return number


def add_data_argument(parser: CommandParser) -> None:
    """--data: the folder with the MNIST files."""
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="Folder with the MNIST files (default: settings.MNIST_DATA_DIR, i.e. "
        "$MNIST_DATA or ../shared/datasets/mnist).",
    )
