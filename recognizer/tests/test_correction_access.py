"""Who may correct a prediction on the pages: its maker (through the session) or an
admin; anyone else gets 403; corrections per client are rate-limited (429)."""

import hashlib

import pytest
from django.test import Client

from recognizer.storage import corrections, records
from recognizer.tests.support.factories import BOTH_DATABASES

pytestmark = pytest.mark.django_db(databases=BOTH_DATABASES, transaction=True)

FETCH = {"HTTP_X_REQUESTED_WITH": "fetch"}


@pytest.fixture(autouse=True)
def private_limits(settings, tmp_path):
    settings.CACHES = {
        **settings.CACHES,
        "corrections": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        },
    }


@pytest.fixture
def made(client, draw_png, data_url):
    """A prediction made by ``client`` on the draw page."""
    client.post("/", {"image": data_url(draw_png("1"))})
    [record] = records.list_records(limit=10).records
    return record


def label(client, record, digit: str = "4"):
    return client.post(f"/history/{record.id}/label/", {"label": digit}, **FETCH)


def test_the_maker_may_correct_and_the_correction_names_their_session(client, made):
    assert label(client, made).status_code == 200
    [correction] = corrections.since()
    assert correction.corrected_by.startswith("session:")
    assert client.session.session_key not in correction.corrected_by


def test_another_visitor_gets_403_and_no_correction_form(made):
    stranger = Client()
    response = label(stranger, made)
    assert response.status_code == 403
    assert "Only whoever made this prediction" in response.json()["error"]
    assert records.get_record(made.id).label is None
    page = stranger.get(f"/history/{made.id}/").content.decode()
    assert "It was actually" not in page


def test_an_admin_may_correct_any_prediction(admin_client, admin_user, made):
    assert label(admin_client, made, "7").status_code == 200
    assert records.get_record(made.id).label == 7
    assert corrections.since()[0].corrected_by == f"admin:{admin_user.get_username()}"
    assert "It was actually" in admin_client.get(f"/history/{made.id}/").content.decode()


def test_only_a_hash_of_the_edit_token_is_stored(client, made):
    [token] = client.session["edit_tokens"].values()
    assert len(token) >= 43  # 32 random bytes, URL-safe base64
    assert made.edit_token_hash == hashlib.sha256(token.encode()).hexdigest()


def test_corrections_beyond_the_hourly_limit_get_429_with_retry_after(
    settings, client, admin_client, made
):
    settings.CORRECTIONS_PER_HOUR = 2
    assert label(client, made, "4").status_code == 200
    assert label(client, made, "5").status_code == 200
    response = label(client, made, "6")
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    assert "Too many corrections" in response.json()["error"]
    assert records.get_record(made.id).label == 5
    assert label(admin_client, made, "6").status_code == 200  # admins are not limited
