"""The client's address comes from nginx's X-Forwarded-For only when the request
came through nginx (over gunicorn's private unix socket)."""

from django.http import HttpResponse
from django.test import RequestFactory

from recognizer.web.middleware import TrustedProxyMiddleware, client_address


def address_seen(**meta: str) -> str:
    request = RequestFactory().get("/", **meta)
    seen = {}

    def view(request):
        seen["address"] = client_address(request)
        return HttpResponse()

    TrustedProxyMiddleware(view)(request)
    return seen["address"]


def test_through_nginx_the_client_is_the_forwarded_address():
    assert address_seen(REMOTE_ADDR="", HTTP_X_FORWARDED_FOR="203.0.113.9") == "203.0.113.9"


def test_through_nginx_only_the_address_nginx_added_counts():
    meta = {"REMOTE_ADDR": "", "HTTP_X_FORWARDED_FOR": "10.9.9.9, 203.0.113.9"}
    assert address_seen(**meta) == "203.0.113.9"


def test_a_client_that_reaches_the_app_directly_cannot_choose_its_address():
    meta = {"REMOTE_ADDR": "198.51.100.7", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    assert address_seen(**meta) == "198.51.100.7"
