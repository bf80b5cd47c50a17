"""Who may correct a prediction, and how often.

A correction needs the capability of whoever made the prediction: the edit
token its maker got (the API returns it; the pages keep their visitor's tokens
in the session), or an admin account. Corrections per client are limited per
hour (MNIST_CORRECTIONS_PER_HOUR) so that one client cannot flood the data the
model is retrained on; admins are not limited.

The count lives in a cache shared by every worker on the machine (the
"corrections" cache, files under var/), so the limit holds across processes.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import caches
from django.http import HttpRequest

from recognizer.storage import edit_tokens
from recognizer.storage.models import PredictRecord
from recognizer.web.clients import client_name

SESSION_KEY = "edit_tokens"
MAX_REMEMBERED = 200  # a visitor's newest predictions that stay correctable
WINDOW_SECONDS = 3600


def is_admin(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_staff)


def remember(request: HttpRequest, record: PredictRecord) -> None:
    """Keep the token of a prediction this visitor made, so they may correct it."""
    tokens = dict(request.session.get(SESSION_KEY, {}))
    tokens[str(record.id)] = record.edit_token
    # Dicts keep insertion order: drop the oldest beyond the cap.
    request.session[SESSION_KEY] = dict(list(tokens.items())[-MAX_REMEMBERED:])


def may_correct(request: HttpRequest, record: PredictRecord, token: str | None = None) -> bool:
    """An admin, or whoever holds the record's edit token (given, or in the session)."""
    if is_admin(request):
        return True
    if token is None:
        token = request.session.get(SESSION_KEY, {}).get(str(record.id))
    return edit_tokens.matches(token, record.edit_token_hash)


def retry_after(request: HttpRequest) -> int | None:
    """Count one correction for this client; the seconds to wait if over the limit."""
    if is_admin(request):
        return None
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    key = f"corrections:{client_name(request)}:{window}"
    cache = caches["corrections"]
    cache.add(key, 0, timeout=WINDOW_SECONDS + 60)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=WINDOW_SECONDS + 60)
        count = 1
    if count <= settings.CORRECTIONS_PER_HOUR:
        return None
    return max(int((window + 1) * WINDOW_SECONDS - now) + 1, 1)
