"""Cross-cutting HTTP behaviour: size limits, security headers, storage outages."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from recognizer.recognition.inputs import too_large_message
from recognizer.storage.records import StorageUnavailable
from recognizer.web.errors import error_response as _error


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
