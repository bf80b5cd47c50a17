"""Average two or more trained digit models into one model file, with its metadata.

Why a command: an ensemble must be rebuilt, and measured, by anyone with the
repository, the member models and the MNIST files (the shipped model is a single one:
the README's "The model" says why). The work lives in recognizer.recognition.ensembles;
this only parses options.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from recognizer.management.options import (
    add_data_argument,
    add_keras_output_argument,
    keras_output,
)
from recognizer.recognition.mnist_data import MnistDataError, load_mnist


class Command(BaseCommand):
    help = (
        "Combine trained models (each from manage.py train_model, with the same outputs) "
        "into one that answers with the average of their probabilities. Its 'not sure' and "
        "'no digit' thresholds are chosen again on the held-out digits and non-digits that "
        "training uses, and it is measured on MNIST test. Example: manage.py combine_models "
        "A.keras B.keras --output ml_models/mnist_cnn.keras"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("models", nargs="+", type=Path, metavar="MODEL")
        add_data_argument(parser)
        add_keras_output_argument(parser, "ensemble", "MODEL_PATH")

    def handle(self, *args, **options) -> None:
        paths = options["models"]
        output = keras_output(options, settings.MODEL_PATH)
        if len(paths) < 2:
            raise CommandError("Give at least two models to combine.")
        for path in paths:
            if not path.is_file():
                raise CommandError(f"{path} does not exist.")
            if path.resolve() == output.resolve():
                raise CommandError(f"{path} is also the --output: write the ensemble elsewhere.")
        try:
            data = load_mnist(options["data"] or Path(settings.MNIST_DATA_DIR))
        except MnistDataError as exc:
            raise CommandError(str(exc)) from None

        # Imported here so that `manage.py help` and option errors stay fast.
        from recognizer.recognition.ensembles import UnsuitableMembers, combine_files

        try:
            metadata = combine_files(paths, data, output, log=self.stdout.write)
        except UnsuitableMembers as exc:
            raise CommandError(str(exc)) from None
        thresholds = f"not sure under {metadata['unsure_threshold']}"
        if "no_digit_threshold" in metadata:
            thresholds += f", no digit from {metadata['no_digit_threshold']}"
        self.stdout.write(
            self.style.SUCCESS(
                f"Saved the average of {len(paths)} models as {output} ({metadata['version']}): "
                f"MNIST test {metadata['test_accuracy']:.2%}; {thresholds}."
            )
        )
