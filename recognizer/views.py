from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from recognizer.health import cassandra_status


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "recognizer/home.html", {"cassandra": cassandra_status()})
