"""Train the digit recogniser's CNN on MNIST and write the model with its metadata.

Why a management command: training must be reproducible by anyone with the repository
and the MNIST files, with the project's settings (data folder, model path) and no extra
scripts. The work itself lives in recognizer.training; this only parses options.
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from recognizer.management.options import (
    add_data_argument,
    add_keras_output_argument,
    keras_output,
    positive_int,
)
from recognizer.recognition.mnist_data import MnistDataError, load_mnist


class Command(BaseCommand):
    help = (
        "Train the MNIST CNN with augmentation (rotation, shift, zoom, stroke width) and "
        "save it in Keras format, with a metadata JSON of the same name beside it (version, "
        "test accuracy, data checksums, input convention, unsure threshold). Reads the four "
        "MNIST IDX .gz files (or a Keras mnist.npz) from --data. Deterministic for a given "
        "--seed on the same machine and library versions. Example: "
        "manage.py train_model (eleven outputs from random weights), "
        "manage.py train_model --init-from DIGITS.keras --no-digit-head --epochs 6 "
        "--non-digits 16000 --learning-rate 1e-3 --final-learning-rate 1e-4 "
        "(how the shipped model was made: a 'no digit' head beside a ten-output digit "
        "model; its metadata records it), or "
        "manage.py train_model --epochs 1 --limit 2000 --output /tmp/smoke.keras"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        from recognizer.recognition.training import DESIGNS, TrainingConfig

        defaults = TrainingConfig()
        add_data_argument(parser)
        add_keras_output_argument(parser, "model", "MODEL_PATH")
        for flag, kind, default, what in (
            ("--epochs", positive_int, defaults.epochs, "Training epochs"),
            ("--batch-size", positive_int, defaults.batch_size, "Batch size"),
            ("--seed", int, defaults.seed, "Random seed for everything"),
        ):
            parser.add_argument(
                flag, type=kind, default=default, help=f"{what} (default %(default)s)."
            )
        parser.add_argument(
            "--learning-rate",
            type=float,
            default=defaults.learning_rate,
            help="Starting learning rate, decayed to --final-learning-rate (default %(default)s).",
        )
        parser.add_argument(
            "--final-learning-rate",
            type=float,
            default=defaults.final_learning_rate,
            help="Learning rate of the last epoch (default %(default)s).",
        )
        parser.add_argument(
            "--non-digits",
            type=int,
            default=defaults.non_digits,
            help="Made-up non-digits added to the training data (default %(default)s).",
        )
        parser.add_argument(
            "--design",
            choices=DESIGNS,
            default=defaults.design,
            help="The network's design (default %(default)s); see "
            "recognizer.recognition.training.build_model. With --non-digits 0 it has ten "
            "outputs: a digit model, for --no-digit-head.",
        )
        parser.add_argument(
            "--init-from",
            type=Path,
            default=None,
            metavar="MODEL",
            help="Start from the weights of an earlier .keras model of the same design "
            "(ten or eleven outputs) instead of random ones.",
        )
        parser.add_argument(
            "--no-digit-head",
            action="store_true",
            help="With --init-from a ten-output model: keep it as it is (every digit "
            "answer stays) and train only a 'no digit' head beside it.",
        )
        parser.add_argument(
            "--weight-average",
            type=float,
            default=None,
            metavar="MOMENTUM",
            help="Ship the exponential moving average of the weights over the training "
            "steps, each step keeping MOMENTUM (between 0 and 1, such as 0.999) of it, "
            "instead of the last step's weights (default: the last step's).",
        )
        parser.add_argument(
            "--limit",
            type=positive_int,
            default=None,
            help="Use only N training and N test images (quick smoke runs; the result is "
            "not a usable model).",
        )

    def handle(self, *args, **options) -> None:
        data_dir = options["data"] or Path(settings.MNIST_DATA_DIR)
        output = keras_output(options, settings.MODEL_PATH)
        try:
            data = load_mnist(data_dir)
        except MnistDataError as exc:
            raise CommandError(str(exc)) from None

        # Imported here so that `manage.py help` and option errors stay fast.
        from recognizer.recognition.training import TrainingConfig, UnsuitableStartingModel, train

        defaults = TrainingConfig()
        config = TrainingConfig(
            epochs=options["epochs"],
            batch_size=options["batch_size"],
            seed=options["seed"],
            limit=options["limit"],
            validation_size=defaults.validation_size,
            learning_rate=options["learning_rate"],
            final_learning_rate=options["final_learning_rate"],
            non_digits=options["non_digits"],
            design=options["design"],
            init_from=str(options["init_from"]) if options["init_from"] else None,
            no_digit_head=options["no_digit_head"],
            weight_average=options["weight_average"],
        )
        if config.non_digits < 0:
            raise CommandError("--non-digits must be 0 or more.")
        if config.weight_average is not None and not 0 < config.weight_average < 1:
            raise CommandError("--weight-average must be between 0 and 1, such as 0.999.")
        if config.init_from and not Path(config.init_from).is_file():
            raise CommandError(f"--init-from: {config.init_from} does not exist.")
        if config.no_digit_head and not config.init_from:
            raise CommandError("--no-digit-head needs --init-from MODEL (a ten-output model).")
        verbosity = options["verbosity"]
        # Progress bars on a terminal, one line per epoch in logs.
        keras_verbose = 0 if verbosity == 0 else (1 if self.stdout.isatty() else 2)
        try:
            metadata = train(
                data,
                config,
                output,
                verbose=keras_verbose,
                log=lambda message: self.stdout.write(message) if verbosity else None,
            )
        except UnsuitableStartingModel as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Saved {output} (version {metadata['version']}, test accuracy "
                f"{metadata['test_accuracy']:.2%}, unsure threshold "
                f"{metadata['unsure_threshold']})."
            )
        )
