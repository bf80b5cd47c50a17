"""Train the number reader (a CRNN with CTC that counts the digits of touching groups)
and write it with its metadata; see recognizer.recognition.number_reader."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from recognizer.management.options import (
    add_data_argument,
    add_keras_output_argument,
    keras_output,
    non_negative_int,
    positive_float,
    positive_int,
)
from recognizer.recognition.mnist_data import MnistDataError, load_mnist


class Command(BaseCommand):
    help = (
        "Train the number reader on strings of touching MNIST training digits (and on "
        "made-up non-digits, read as no digits) and save it in Keras format with a "
        "metadata JSON beside it. Example: manage.py train_number_reader --output "
        "FIRST.keras, then manage.py train_number_reader --init-from FIRST.keras "
        "--non-digits 8000 --epochs 3 --learning-rate 5e-4 (how the shipped reader was "
        "made), or manage.py train_number_reader --strings 2000 --epochs 1 --output "
        "/tmp/reader.keras"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_data_argument(parser)
        add_keras_output_argument(parser, "reader", "READER_PATH")
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
        parser.add_argument(
            "--non-digits",
            type=non_negative_int,
            default=0,
            help="Made-up non-digits (letters, shapes, scribbles, noise) added to the "
            "training strings, read as no digits (default %(default)s).",
        )
        parser.add_argument(
            "--pen-digits",
            type=non_negative_int,
            default=0,
            help="Digits drawn with a pen or typed in a font, put among the MNIST "
            "training digits the strings are written with (default %(default)s).",
        )
        parser.add_argument(
            "--init-from",
            type=Path,
            default=None,
            metavar="READER",
            help="Start from the weights of an earlier .keras reader instead of random ones.",
        )
        parser.add_argument(
            "--learning-rate",
            type=positive_float,
            default=2e-3,
            help="Starting learning rate, cosine-decayed (default %(default)s).",
        )

    def handle(self, *args, **options) -> None:
        output = keras_output(options, settings.READER_PATH)
        init_from = options["init_from"]
        if init_from is not None and not init_from.is_file():
            raise CommandError(f"--init-from: no reader file at {init_from}.")
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
            non_digits=options["non_digits"],
            pen_digits=options["pen_digits"],
            init_from=init_from,
            learning_rate=options["learning_rate"],
            verbose=0 if verbosity == 0 else (1 if self.stdout.isatty() else 2),
            log=lambda message: self.stdout.write(message) if verbosity else None,
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Saved {output} (version {metadata['version']}, test strings read exactly "
                f"{metadata['test_strings_exact']:.2%})."
            )
        )
