"""Predict the digit in image files from the command line.

Why it exists: to check the shipped model and the preprocessing on real files (a
scanned digit, a canvas export) exactly as the web site would see them, without a
browser or Cassandra.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recognizer.recognition.preprocessing import InvalidImage

BAD_INPUT_EXIT_CODE = 2


class Command(BaseCommand):
    help = (
        "Print the predicted digit and its confidence for each image file (PNG, JPEG, GIF, "
        "WebP or BMP; dark on light or light on dark), marking unsure answers. Files that "
        "cannot be read are reported and skipped; the command then exits with status 2. "
        "Uses the model at settings.MODEL_PATH ($MNIST_MODEL_PATH)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="Image files.")

    def handle(self, *args, **options) -> None:
        from recognizer.recognition.predictor import ModelUnavailable, get_predictor

        try:
            predictor = get_predictor()
        except ModelUnavailable as exc:
            raise CommandError(str(exc)) from None

        failures = 0
        for path in options["files"]:
            try:
                prediction = predictor.predict_image(path.read_bytes())
            except (OSError, InvalidImage) as exc:
                failures += 1
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
                self.stderr.write(self.style.ERROR(f"{path}: {reason}"))
                continue
            line = f"{path}: {prediction.digit} (confidence {prediction.confidence:.1%})"
            if prediction.unsure:
                line += " unsure"
            self.stdout.write(line)

        if failures:
            raise CommandError(
                f"{failures} of {len(options['files'])} files could not be read.",
                returncode=BAD_INPUT_EXIT_CODE,
            )
