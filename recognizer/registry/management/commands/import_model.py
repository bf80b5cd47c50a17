"""Register a model trained elsewhere as a candidate.

Why: models trained outside this project (the earlier Flask prototypes, a
notebook) can be compared with the active one on the same tests and promoted
through the same gate, instead of replacing files by hand.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recognizer.registry import command_inputs
from recognizer.registry.importing import ImportFailed, import_model


class Command(BaseCommand):
    help = (
        "Import PATH (a .keras file, or an architecture .json with its HDF5 WEIGHTS) as a "
        "candidate version. It must take 28x28 (or 28x28x1) grey images and give 10 "
        "probabilities. --input-scale is the value the model expects for full ink (255 for "
        "raw pixels, 1 for 0-1 floats); --invert for models trained on black digits on "
        "white. Both are stored in its metadata and applied by the predictor. It is "
        "evaluated on MNIST test and all corrections, and gated against the active version."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("weights", type=Path, nargs="?")
        parser.add_argument("--input-scale", type=float, default=1.0, help="Default %(default)s.")
        parser.add_argument("--invert", action="store_true", help="Black digit on white.")
        parser.add_argument("--data", type=Path, help="MNIST folder (default MNIST_DATA).")
        parser.add_argument(
            "--limit", type=int, help="Evaluate on the first N MNIST test images only."
        )

    def handle(self, *args, **options) -> None:
        if options["input_scale"] <= 0:
            raise CommandError("--input-scale must be positive.")
        mnist = command_inputs.mnist(options["data"])
        limit = options["limit"] or len(mnist.y_test)
        corrections = command_inputs.corrections(None, None)
        try:
            entry = import_model(
                options["path"],
                options["weights"],
                options["input_scale"],
                options["invert"],
                (mnist.x_test[:limit], mnist.y_test[:limit]),
                corrections,
            )
        except ImportFailed as exc:
            raise CommandError(str(exc)) from None
        verdict = (
            "passed" if entry.gate_passed else "FAILED: " + "; ".join(entry.gate_report["reasons"])
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported {entry.version} as a candidate: MNIST test "
                f"{entry.mnist_test_accuracy:.2%}; gate {verdict}."
            )
        )
