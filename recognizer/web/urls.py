from django.urls import path

from recognizer.web import views

app_name = "recognizer"

urlpatterns = [
    # Pages
    path("", views.draw, name="draw"),
    path("guess/", views.guess, name="guess"),
    path("upload/", views.upload, name="upload"),
    path("status/", views.status, name="status"),
    # History
    path("history/", views.history, name="history"),
    path("history/<uuid:record_id>/", views.record, name="record"),
    path("history/<uuid:record_id>/label/", views.label, name="label"),
]
