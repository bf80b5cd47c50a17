"""Options that several management commands share, defined once."""

from pathlib import Path

from django.core.management.base import CommandError, CommandParser


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


def add_keras_output_argument(parser: CommandParser, what: str, setting: str) -> None:
    """--output: where a command writes the .keras file it makes (``what``), by default
    the path in ``settings.<setting>``; the metadata goes beside it."""
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help=f"Where to write the .keras {what} (default: settings.{setting}). The "
        "metadata goes beside it with a .json suffix.",
    )


def keras_output(options: dict, default: Path) -> Path:
    """The --output path (``default`` when not given); a command error unless it is a
    .keras file."""
    output = options["output"] or Path(default)
    if output.suffix != ".keras":
        raise CommandError(f"--output must end in .keras, not {output.name!r}.")
    return output
