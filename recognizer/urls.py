from django.urls import path

from recognizer import views

app_name = "recognizer"

urlpatterns = [
    path("", views.home, name="home"),
]
