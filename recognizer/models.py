"""Django looks for an app's models here; they live with the rest of the storage layer."""

from recognizer.storage.models import PredictBucket, PredictRecord

__all__ = ["PredictBucket", "PredictRecord"]
