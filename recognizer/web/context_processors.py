from django.conf import settings


def limits(request):
    """Limits the pages mention, so what they say is what the server enforces."""
    return {"max_upload_bytes": settings.MAX_UPLOAD_BYTES}
