"""Django looks for an app's models here; they live with the rest of the storage layer."""

from recognizer.storage.models import Correction, ModelDayCount, PredictBucket, PredictRecord

__all__ = ["Correction", "ModelDayCount", "PredictBucket", "PredictRecord"]
