"""Measure the model on the MNIST test set: accuracy, per-digit accuracy, confusion matrix.

Why it exists: the accuracy in the model's metadata is a claim made at training time;
this checks the model file actually shipped, through the same fast path the site uses,
and shows which digits it confuses.
"""

from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from PIL import Image, ImageDraw, ImageFont

from recognizer.management.options import add_data_argument
from recognizer.recognition.mnist_data import MnistDataError, load_mnist

CELL = 44  # px per confusion-matrix cell in the plot
MARGIN = 70


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """10x10 counts: row = true digit, column = predicted digit."""
    return np.bincount(labels.astype(int) * 10 + predicted, minlength=100).reshape(10, 10)


def draw_confusion_matrix(matrix: np.ndarray, accuracy: float, path: Path) -> None:
    """A PNG of the matrix, cells shaded by their share of the true digit's images."""
    size = MARGIN + 10 * CELL + 20
    image = Image.new("RGB", (size, size + 30), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=14)
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    for true in range(10):
        for guess in range(10):
            # Log-ish shading so that the few errors stay visible next to the diagonal.
            share = shares[true, guess]
            level = 0.0 if matrix[true, guess] == 0 else min(1.0, 0.25 + 0.75 * share**0.3)
            colour = tuple(int(255 - level * (255 - c)) for c in (31, 119, 180))
            x0, y0 = MARGIN + guess * CELL, MARGIN + true * CELL
            draw.rectangle([x0, y0, x0 + CELL, y0 + CELL], fill=colour, outline="grey")
            text_colour = "white" if level > 0.6 else "black"
            draw.text(
                (x0 + CELL / 2, y0 + CELL / 2),
                str(matrix[true, guess]),
                fill=text_colour,
                font=font,
                anchor="mm",
            )
        draw.text((MARGIN - 12, MARGIN + true * CELL + CELL / 2), str(true), "black", font, "mm")
        draw.text((MARGIN + true * CELL + CELL / 2, MARGIN - 12), str(true), "black", font, "mm")
    draw.text((MARGIN + 5 * CELL, 20), "predicted digit", "black", font, "mm")
    draw.text((15, MARGIN + 5 * CELL), "true", "black", font, "mm")
    draw.text((size / 2, size + 10), f"MNIST test accuracy {accuracy:.2%}", "black", font, "mm")
    image.save(path, format="PNG")


class Command(BaseCommand):
    help = (
        "Evaluate the model on the 10,000 MNIST test images through the site's predictor: "
        "prints the accuracy, the accuracy for each digit and the confusion matrix "
        "(rows: true digit, columns: predicted). --plot FILE also draws the matrix as a PNG."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_data_argument(parser)
        parser.add_argument(
            "--model",
            type=Path,
            default=None,
            help="The .keras model to evaluate (default: settings.MODEL_PATH).",
        )
        parser.add_argument(
            "--plot",
            type=Path,
            default=None,
            metavar="FILE",
            help="Write the confusion matrix as a PNG image to FILE.",
        )

    def handle(self, *args, **options) -> None:
        try:
            data = load_mnist(options["data"] or Path(settings.MNIST_DATA_DIR))
        except MnistDataError as exc:
            raise CommandError(str(exc)) from None
        from recognizer.recognition.images import NO_DIGIT_CLASS
        from recognizer.recognition.predictor import ModelUnavailable, Predictor

        model_path = options["model"] or Path(settings.MODEL_PATH)
        try:
            # A batch job, not a web worker: let TensorFlow use every core (0 = its choice).
            predictor = Predictor(model_path, intra_threads=0, inter_threads=0)
        except ModelUnavailable as exc:
            raise CommandError(str(exc)) from None

        # The answers the site gives: a digit, or NO_DIGIT_CLASS for "no digit" (those are
        # wrong, counted apart, and left out of the digit-by-digit matrix).
        predicted, _ = predictor.predict_arrays(data.x_test)
        labels = data.y_test
        refused = predicted == NO_DIGIT_CLASS
        accuracy = float((predicted == labels).mean())
        matrix = confusion_matrix(labels[~refused], predicted[~refused])

        out = self.stdout
        out.write(f"Model {predictor.version} ({model_path})")
        correct = int((predicted == labels).sum())
        out.write(self.style.SUCCESS(f"Test accuracy: {accuracy:.2%} ({correct}/{len(labels)})"))
        out.write(f"Real digits answered 'no digit': {int(refused.sum())}")
        out.write("Per-digit accuracy (of those answered with a digit):")
        for digit in range(10):
            total = matrix[digit].sum()
            out.write(
                f"  {digit}: {matrix[digit, digit] / total:.2%} ({matrix[digit, digit]}/{total})"
            )
        out.write("Confusion matrix (rows: true digit, columns: predicted):")
        out.write("      " + "".join(f"{d:>6}" for d in range(10)))
        for digit in range(10):
            out.write(f"{digit:>6}" + "".join(f"{n:>6}" for n in matrix[digit]))

        if options["plot"]:
            try:
                draw_confusion_matrix(matrix, accuracy, options["plot"])
            except (OSError, ValueError) as exc:
                raise CommandError(f"Could not write {options['plot']}: {exc}") from None
            out.write(f"Wrote {options['plot']}")
