from django.urls import path

from recognizer.web import api

app_name = "api"

urlpatterns = [
    # /api/
    path("predictions/", api.predictions, name="predictions"),
    path("predictions/<uuid:record_id>/", api.prediction, name="prediction"),
    path("openapi.json", api.openapi_document, name="openapi"),
]
