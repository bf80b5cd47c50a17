"""Who is asking: a stable, anonymous name for the client behind a request.

Corrections record it (who corrected what), retraining holds back by it (no
client's drawings in both the training and the held-back part), and rate limits
count by it. Session keys and addresses are never stored: only a keyed hash.
"""

import hashlib
import hmac

from django.conf import settings
from django.http import HttpRequest

from recognizer.web.middleware import client_address


def _hashed(kind: str, value: str) -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), f"{kind}:{value}".encode(), hashlib.sha256)
    return f"{kind}:{digest.hexdigest()[:16]}"


def client_name(request: HttpRequest) -> str:
    """ "admin:<user>" for staff, else "session:<hash>" for a page visitor with a
    session, else "client:<hash of the address>" (the API uses no cookies)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return f"admin:{user.get_username()}"
    session = getattr(request, "session", None)
    if session is not None and session.session_key:
        return _hashed("session", session.session_key)
    return _hashed("client", client_address(request))
