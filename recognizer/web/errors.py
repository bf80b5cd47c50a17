"""Error pages: JSON under /api/, HTML elsewhere, always with a plain message."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render


def wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz"


def error_response(request: HttpRequest, message: str, status: int) -> HttpResponse:
    if wants_json(request):
        return JsonResponse({"error": message}, status=status)
    return render(request, "error.html", {"message": message, "status": status}, status=status)


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    return error_response(request, "The request could not be understood.", 400)


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    return error_response(request, "You are not allowed to do that.", 403)


def not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return error_response(request, "There is nothing here.", 404)


def login_locked_out(request: HttpRequest, original_response=None, credentials=None):
    """django-axes' answer to a login from an address with too many failures."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    response = error_response(
        request,
        f"Too many failed logins from your address: try again in {minutes} minutes.",
        429,
    )
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    return error_response(request, "Something went wrong on our side.", 500)
