"""Model versions: where each one lives on disk, how well it did, and its status.

At most one version is active at a time (a partial unique constraint enforces
it). Candidates come from ``retrain_model`` or ``import_model``; promoting one
retires the active version; rolling back brings back the one active before.
"""

from django.db import models
from django.db.models import Q


class ModelVersion(models.Model):
    CANDIDATE = "candidate"
    ACTIVE = "active"
    RETIRED = "retired"
    STATUSES = [(CANDIDATE, "candidate"), (ACTIVE, "active"), (RETIRED, "retired")]

    ORIGINS = [("shipped", "shipped"), ("retrained", "retrained"), ("imported", "imported")]

    version = models.CharField(max_length=80, unique=True)
    status = models.CharField(max_length=10, choices=STATUSES, default=CANDIDATE)
    origin = models.CharField(max_length=10, choices=ORIGINS)
    # Relative to settings.MODEL_REGISTRY_DIR, e.g. "cnn-20261122-cb911221/mnist_cnn.keras".
    model_file = models.CharField(max_length=255)
    parent = models.CharField(max_length=80, blank=True, help_text="the version it was made from")
    mnist_test_accuracy = models.FloatField(null=True, blank=True)
    corrections_accuracy = models.FloatField(
        null=True, blank=True, help_text="on the corrections held back from its training"
    )
    gate_passed = models.BooleanField(null=True, blank=True)
    gate_report = models.JSONField(default=dict, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    rolled_back_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"], condition=Q(status="active"), name="one_active_version"
            )
        ]

    def __str__(self) -> str:
        return f"{self.version} ({self.status})"
