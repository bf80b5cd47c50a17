"""The registry in the admin: versions with metrics and gate report, promote and
roll back, and the per-day chart of each version in use (from counters)."""

import json
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from recognizer.registry import versions
from recognizer.registry.pointer import read_pointer
from recognizer.storage import records
from recognizer.storage.models import ModelDayCount
from recognizer.tests.support.factories import BOTH_DATABASES, make_record

pytestmark = pytest.mark.django_db(databases=BOTH_DATABASES, transaction=True)

CHANGELIST = "admin:registry_modelversion_changelist"


@pytest.fixture(autouse=True)
def registry_dir(settings, tmp_path) -> Path:
    settings.MODEL_REGISTRY_DIR = tmp_path / "models"
    return settings.MODEL_REGISTRY_DIR


def candidate(version: str, passed: bool):
    versions.ensure_seeded()
    folder = versions.version_folder(version)
    folder.mkdir(parents=True)
    (folder / versions.MODEL_FILE).write_bytes(Path(settings.MODEL_PATH).read_bytes())
    (folder / "mnist_cnn.json").write_text(json.dumps({"version": version}))
    report = {
        "passed": passed,
        "reasons": [] if passed else ["held-back corrections accuracy 40.00% is below 90.00%"],
        "held_back_corrections": 40,
        "candidate": {"mnist_test_accuracy": 0.9961, "corrections_accuracy": 0.4},
        "active": {"mnist_test_accuracy": 0.996, "corrections_accuracy": 0.9},
    }
    return versions.add_candidate(version, "retrained", {"version": version}, report)


def test_it_lists_versions_with_metrics_and_the_gate_report(admin_client):
    entry = candidate("retrained-x", passed=False)

    listing = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "retrained-x" in listing and "99.61%" in listing
    detail = admin_client.get(
        reverse("admin:registry_modelversion_change", args=[entry.pk])
    ).content.decode()
    assert "held-back corrections (40)" in detail
    assert "40.00%" in detail and "90.00%" in detail
    assert "failed: held-back corrections accuracy 40.00% is below 90.00%" in detail


def test_an_admin_promotes_a_passed_candidate_and_rolls_back(admin_client):
    good = candidate("retrained-good", passed=True)
    shipped = versions.active_version().version

    admin_client.post(
        reverse(CHANGELIST), {"action": "promote_selected", "_selected_action": [good.pk]}
    )
    assert read_pointer().version == "retrained-good"

    admin_client.post(reverse(CHANGELIST), {"action": "roll_back", "_selected_action": [good.pk]})
    assert read_pointer().version == shipped


def test_the_admin_cannot_promote_a_candidate_that_failed_the_gate(admin_client):
    bad = candidate("retrained-bad", passed=False)

    response = admin_client.post(
        reverse(CHANGELIST),
        {"action": "promote_selected", "_selected_action": [bad.pk]},
        follow=True,
    )
    assert "failed the gate" in response.content.decode()
    assert read_pointer().version != "retrained-bad"


def test_the_chart_shows_each_version_per_day_from_the_counters(admin_client):
    for unsure in (True, False, False, False):
        records.save_record(make_record(model_version="v-one", digit=3, unsure=unsure))
    corrected = records.save_record(make_record(model_version="v-two", digit=5))
    records.save_record(make_record(model_version="v-two", digit=5))
    records.set_label(corrected.id, 6, "session:abc")  # a correction
    records.set_label(corrected.id, 6, "session:abc")  # the same again counts again
    confirmed = records.save_record(make_record(model_version="v-one", digit=3))
    records.set_label(confirmed.id, 3, "session:abc")  # "Right?": not a correction

    page = admin_client.get(reverse("admin:registry_modelversion_live")).content.decode()

    assert page.count("<polyline") == 4 * 2  # four charts, two versions
    assert "<script" not in page.split('id="content"')[1]
    # Numbers: v-one 5 predictions, 1 unsure; v-two 2 predictions, 2 corrections.
    assert "<td>v-one</td><td>5</td><td>0</td><td>0.00%</td><td>20.00%</td>" in page
    assert "<td>v-two</td><td>2</td><td>2</td><td>100.00%</td><td>0.00%</td>" in page


def test_each_worker_sends_its_summed_counts_by_itself_within_the_interval(settings):
    """Off the answer's path: no counter update per prediction, but a thread
    that sends the sum (one update) every DAY_COUNT_FLUSH_INTERVAL."""
    settings.DAY_COUNT_FLUSH_INTERVAL = 0.2
    made = [records.save_record(make_record(model_version="v-sent")) for _ in range(3)]
    day = made[0].created_at.replace(hour=0, minute=0, second=0, microsecond=0)

    deadline = time.monotonic() + 5
    while True:
        row = ModelDayCount.objects.filter(day=day, model_version="v-sent").first()
        if row is not None and row.predictions == 3:
            break
        assert time.monotonic() < deadline, f"3 predictions never counted: {row}"
        time.sleep(0.1)


def test_the_chart_needs_an_admin(client):
    response = client.get(reverse("admin:registry_modelversion_live"))
    assert response.status_code == 302
