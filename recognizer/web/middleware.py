"""Cross-cutting HTTP behaviour: size limits, security headers, storage outages."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from recognizer.recognition.inputs import too_large_message
from recognizer.storage.records import StorageUnavailable
from recognizer.web.errors import error_response as _error
from recognizer.web.errors import wants_json


class RequestLimitsMiddleware:
    """Refuse oversized bodies with 413 before anything reads them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return _error(request, "The Content-Length header is not a number.", 400)
        if length > settings.MAX_REQUEST_BYTES:
            return _error(request, too_large_message(), 413)
        return self.get_response(request)


class StorageOutageMiddleware:
    """A Cassandra outage while reading records is a 503 with a message, not a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, StorageUnavailable):
            return _error(
                request, "Stored predictions are unavailable right now: storage is down.", 503
            )
        return None


class ContentSecurityPolicyMiddleware:
    """A Content Security Policy with no inline script: every script is a file under /static/."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        return response


class JsonApiMiddleware:
    """The JSON API's HTTP manners: CORS without credentials on every /api/ answer,
    a 204 to a preflight, and a JSON 405 for a method a route does not have.

    The routes (django-ninja) answer an unknown method with a plain 405 that
    lists the allowed ones; this turns it into the preflight answer or the
    JSON error, so the allowed methods are stated once, by the routes.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not wants_json(request):
            return response
        if response.status_code == 405 and response.has_header("Allow"):
            allowed = ", ".join(sorted(m.strip() for m in response["Allow"].split(",")))
            if request.method == "OPTIONS":
                response = HttpResponse(status=204)
                response["Access-Control-Allow-Methods"] = f"{allowed}, OPTIONS"
                response["Access-Control-Allow-Headers"] = "Content-Type"
                response["Access-Control-Max-Age"] = "600"
            else:
                response = JsonResponse(
                    {"error": f"Method {request.method} is not allowed here."}, status=405
                )
                response["Allow"] = allowed
        if request.path.startswith("/api/"):
            response["Access-Control-Allow-Origin"] = "*"
        return response
