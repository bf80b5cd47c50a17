from django.contrib import admin
from django.urls import include, path

from recognizer.web import errors
from recognizer.web.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("recognizer.web.urls")),
    # /api/..., /api/openapi.json and /healthz: the JSON API (recognizer/web/api.py).
    # After the pages: ninja also adds an empty root route of its own.
    path("", api.urls),
]

handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.not_found
handler500 = errors.server_error
