"""Write the corrections people made as training data.

Why: retraining, and anyone auditing it, needs the exact images and labels;
an .npz file is what numpy and Keras read directly.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandParser

from recognizer.registry import command_inputs, corrections_data


class Command(BaseCommand):
    help = (
        "Export corrected predictions to an .npz file: images (N x 28 x 28 uint8, the "
        "model's input, white on black), labels (the corrected digits), clients (who "
        "corrected, hashed) and record_ids. Reads the correction table by day, never the "
        "whole records table. The newest correction of a record counts. A corrected "
        "number gives one image and label per digit, when it has as many digits as "
        "were segmented (else the record is left out)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--since", type=command_inputs.moment, help="Only corrections made since (UTC)."
        )
        parser.add_argument(
            "--out", type=Path, default=Path("corrections.npz"), help="Default %(default)s."
        )

    def handle(self, *args, **options) -> None:
        data = command_inputs.corrections(None, options["since"])
        corrections_data.save_npz(data, options["out"])
        clients = len(set(data.clients.tolist()))
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {len(data)} corrections from {clients} clients to {options['out']}."
            )
        )
