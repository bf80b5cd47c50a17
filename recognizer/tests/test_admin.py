"""PredictRecord in the Django admin: login required, read-only, thumbnails shown."""

from datetime import UTC, datetime

import pytest

from recognizer.storage import records
from recognizer.tests.support.factories import BOTH_DATABASES, make_record
from recognizer.tests.support.pages import page_html

pytestmark = pytest.mark.django_db(databases=BOTH_DATABASES, transaction=True)


@pytest.fixture
def record(draw_png):
    return records.save_record(
        make_record(
            at=datetime(2026, 5, 6, 7, 8, tzinfo=UTC),
            source="upload",
            filename="<b>bold</b>.png",
            digit=3,
            confidence=0.75,
            probabilities=[0.025] * 9 + [0.75],
            image=draw_png("1", size=28, mode="L"),
        )
    )


def test_the_admin_needs_a_login(client, record):
    response = client.get("/admin/recognizer/predictrecord/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_admin_lists_records_with_thumbnails(admin_client, record):
    html = page_html(admin_client, "/admin/recognizer/predictrecord/")
    assert 'src="data:image/png;base64,' in html
    assert "75.0%" in html
    assert "&lt;b&gt;bold&lt;/b&gt;.png" in html
    assert "<b>bold</b>" not in html


def test_the_admin_shows_one_record_read_only(admin_client, record):
    html = page_html(admin_client, f"/admin/recognizer/predictrecord/{record.id}/change/")
    assert str(record.id) in html
    assert 'type="submit"' not in html or "Save" not in html
    assert admin_client.get("/admin/recognizer/predictrecord/add/").status_code == 403
