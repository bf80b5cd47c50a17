"""Train the number reader (a CRNN with CTC that counts the digits of touching groups)
and write it with its metadata; see recognizer.recognition.number_reader."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from recognizer.management.options import add_data_argument, positive_int
from recognizer.recognition.mnist_data import MnistDataError, load_mnist


class Command(BaseCommand):
    help = (
        "Train the number reader on strings of touching MNIST training digits and save it "
        "in Keras format with a metadata JSON beside it. Example: manage.py "
        "train_number_reader (how the shipped reader was made), or manage.py "
        "train_number_reader --strings 2000 --epochs 1 --output /tmp/reader.keras"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_data_argument(parser)
        parser.add_argument(
            "--output",
            type=Path,
            default=None,
            help="Where to write the .keras reader (default: settings.READER_PATH).",
        )
        parser.add_argument(
            "--strings",
            type=positive_int,
            default=40_000,
            help="Strings to train on (default %(default)s).",
        )
        parser.add_argument(
            "--epochs", type=positive_int, default=8, help="Epochs (default %(default)s)."
        )
        parser.add_argument(
            "--seed", type=int, default=2026, help="Random seed (default %(default)s)."
        )

    def handle(self, *args, **options) -> None:
        output = options["output"] or Path(settings.READER_PATH)
        if output.suffix != ".keras":
            raise CommandError(f"--output must end in .keras, not {output.name!r}.")
        try:
            data = load_mnist(options["data"] or Path(settings.MNIST_DATA_DIR))
        except MnistDataError as exc:
            raise CommandError(str(exc)) from None
        # Imported here so that `manage.py help` and option errors stay fast.
        from recognizer.recognition.reader_training import train_reader

        verbosity = options["verbosity"]
        metadata = train_reader(
            data,
            output,
            strings=options["strings"],
            epochs=options["epochs"],
            seed=options["seed"],
            verbose=0 if verbosity == 0 else (1 if self.stdout.isatty() else 2),
            log=lambda message: self.stdout.write(message) if verbosity else None,
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Saved {output} (version {metadata['version']}, test strings read exactly "
                f"{metadata['test_strings_exact']:.2%})."
            )
        )
