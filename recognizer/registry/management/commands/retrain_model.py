"""Fine-tune the active model on people's corrections and gate the candidate.

Why: the site is told when it is wrong; this turns those corrections into a
better model, safely: the candidate must not forget MNIST and must read the
held-back corrections at least as well as the active model before it can be
promoted. The work is in recognizer.registry.retraining.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError, CommandParser

from recognizer.management.options import positive_int
from recognizer.registry import command_inputs, versions
from recognizer.registry.retraining import (
    MIN_MNIST_PER_CORRECTION,
    RetrainConfig,
    RetrainError,
    retrain,
)


class Command(BaseCommand):
    help = (
        "Fine-tune the active model on the corrections (from Cassandra, or --corrections "
        "FILE.npz from export_corrections) mixed with MNIST training images (at least "
        f"{MIN_MNIST_PER_CORRECTION} per correction). About 20%% of the corrections, chosen "
        "by client, are held back. Writes a candidate version with its metadata (data counts, "
        "seed, sha256 of the data) and gate report; --promote promotes it when the gate "
        "passes. Deterministic for a --seed. Example: manage.py retrain_model --promote"
    )

    def add_arguments(self, parser: CommandParser) -> None:
        defaults = RetrainConfig()
        parser.add_argument("--corrections", type=Path, help="An .npz from export_corrections.")
        parser.add_argument("--since", type=command_inputs.moment, help="Corrections since.")
        parser.add_argument("--data", type=Path, help="MNIST folder (default MNIST_DATA).")
        parser.add_argument("--epochs", type=positive_int, default=defaults.epochs)
        parser.add_argument("--batch-size", type=positive_int, default=defaults.batch_size)
        parser.add_argument("--learning-rate", type=float, default=defaults.learning_rate)
        parser.add_argument(
            "--mnist-per-correction",
            type=positive_int,
            default=defaults.mnist_per_correction,
            help="MNIST training images mixed in per correction (default %(default)s).",
        )
        parser.add_argument(
            "--correction-repeats", type=positive_int, default=defaults.correction_repeats
        )
        parser.add_argument("--seed", type=int, default=defaults.seed)
        parser.add_argument(
            "--limit",
            type=positive_int,
            help="Evaluate on the first N MNIST test images only (quick runs).",
        )
        parser.add_argument(
            "--promote", action="store_true", help="Promote the candidate if it passes the gate."
        )

    def handle(self, *args, **options) -> None:
        data = command_inputs.corrections(options["corrections"], options["since"])
        mnist = command_inputs.mnist(options["data"])
        config = RetrainConfig(
            epochs=options["epochs"],
            batch_size=options["batch_size"],
            learning_rate=options["learning_rate"],
            mnist_per_correction=options["mnist_per_correction"],
            correction_repeats=options["correction_repeats"],
            seed=options["seed"],
            test_limit=options["limit"],
        )
        try:
            entry = retrain(
                data,
                mnist,
                config,
                verbose=1 if options["verbosity"] else 0,
                log=self.stdout.write,
            )
        except (RetrainError, versions.RegistryError) as exc:
            raise CommandError(str(exc)) from None
        report = entry.gate_report
        for name in ("candidate", "active"):
            scores = report[name]
            held = scores["corrections_accuracy"]
            self.stdout.write(
                f"  {name:9} MNIST test {scores['mnist_test_accuracy']:.2%}, held-back "
                f"corrections {'-' if held is None else f'{held:.2%}'}"
            )
        if not entry.gate_passed:
            self.stdout.write(
                self.style.WARNING(
                    f"{entry.version} is a candidate that failed the gate: "
                    + "; ".join(report["reasons"])
                )
            )
            return
        self.stdout.write(self.style.SUCCESS(f"{entry.version} passed the gate."))
        if options["promote"]:
            versions.promote(entry.version)
            self.stdout.write(self.style.SUCCESS(f"{entry.version} is now the active version."))
