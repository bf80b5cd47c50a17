from django.contrib import admin
from django.urls import include, path

from recognizer.web import errors, views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("recognizer.web.api_urls")),
    path("healthz", views.healthz, name="healthz"),
    path("", include("recognizer.web.urls")),
]

handler400 = errors.bad_request
handler403 = errors.permission_denied
handler404 = errors.not_found
handler500 = errors.server_error
