"""Corrections: who made them, listed by time in Cassandra, exported, and learned
from by retrain_model (tiny runs: one epoch, a few hundred images)."""

import json
from datetime import UTC, datetime, timedelta
from io import StringIO
from pathlib import Path

import keras
import numpy as np
import pytest
from django.core.management import CommandError, call_command

from recognizer.recognition.preprocessing import encode_png
from recognizer.registry import corrections_data, versions
from recognizer.registry.models import ModelVersion
from recognizer.registry.retraining import split_by_client
from recognizer.storage import corrections, records
from recognizer.tests.support.factories import BOTH_DATABASES, make_record

pytestmark = pytest.mark.django_db(databases=BOTH_DATABASES, transaction=True)


@pytest.fixture(autouse=True)
def registry_dir(settings, tmp_path) -> Path:
    settings.MODEL_REGISTRY_DIR = tmp_path / "models"
    return settings.MODEL_REGISTRY_DIR


@pytest.fixture(scope="module")
def mnist(mnist_dir: Path):
    from recognizer.recognition.mnist_data import load_mnist

    return load_mnist(mnist_dir)


def stored_record(image: np.ndarray, digit: int = 1):
    return records.save_record(make_record(digit=digit, image=encode_png(image)))


def test_each_correction_is_listed_by_time_with_who_made_it():
    first = stored_record(np.full((28, 28), 10, np.uint8))
    second = stored_record(np.full((28, 28), 20, np.uint8))

    records.set_label(first.id, 7, "session:aaaa")
    records.set_label(second.id, 4, "admin:boss")

    listed = corrections.since()
    assert [(c.record_id, c.label, c.corrected_by) for c in listed] == [
        (second.id, 4, "admin:boss"),
        (first.id, 7, "session:aaaa"),
    ]
    assert corrections.since(datetime.now(UTC) + timedelta(seconds=1)) == []


def test_export_writes_the_images_and_current_labels(tmp_path):
    seven = np.zeros((28, 28), np.uint8)
    seven[5:20, 10:14] = 255
    first = stored_record(seven)
    withdrawn = stored_record(np.full((28, 28), 30, np.uint8))
    records.set_label(first.id, 3, "session:aaaa")
    records.set_label(first.id, 7, "session:aaaa")  # changed their mind: the newest counts
    records.set_label(withdrawn.id, 2, "session:bbbb")
    records.set_label(withdrawn.id, None, "session:bbbb")

    out = tmp_path / "c.npz"
    call_command("export_corrections", "--out", str(out), stdout=StringIO())

    with np.load(out) as data:
        assert data["images"].shape == (1, 28, 28)
        assert np.array_equal(data["images"][0], seven)
        assert data["labels"].tolist() == [7]
        assert data["clients"].tolist() == ["session:aaaa"]
        assert data["record_ids"].tolist() == [str(first.id)]


def test_export_writes_each_digit_of_a_corrected_number_with_its_own_label(tmp_path):
    pieces = [np.full((28, 28), 40 * (i + 1), np.uint8) for i in range(3)]
    digits = json.dumps([{"digit": 1, "confidence": 0.9} for _ in pieces])  # as segmented
    number = records.save_record(
        make_record(digit=None, number="111", digits=digits, image=encode_png(np.hstack(pieces)))
    )
    too_short = records.save_record(
        make_record(digit=None, number="111", digits=digits, image=encode_png(np.hstack(pieces)))
    )
    records.set_corrected_number(number.id, "407", "session:aaaa")
    records.set_corrected_number(too_short.id, "47", "session:bbbb")  # 3 pieces, 2 digits

    out = tmp_path / "c.npz"
    call_command("export_corrections", "--out", str(out), stdout=StringIO())

    with np.load(out) as data:
        assert data["labels"].tolist() == [4, 0, 7]
        assert all(np.array_equal(a, b) for a, b in zip(data["images"], pieces, strict=True))
        assert data["record_ids"].tolist() == [str(number.id)] * 3
        assert data["clients"].tolist() == ["session:aaaa"] * 3


def test_export_since_a_later_date_writes_nothing(tmp_path):
    records.set_label(stored_record(np.full((28, 28), 9, np.uint8)).id, 1, "session:a")
    out = tmp_path / "c.npz"
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    call_command("export_corrections", "--since", tomorrow, "--out", str(out), stdout=StringIO())
    assert len(corrections_data.load_npz(out)) == 0


def test_it_holds_back_whole_clients_about_a_fifth_of_the_corrections():
    clients = np.array([f"c{i // 10}" for i in range(200)])  # 20 clients, 10 each

    train, held = split_by_client(clients, 0.2, seed=3)

    assert set(clients[train]).isdisjoint(set(clients[held]))
    assert held.sum() == 40
    again_train, _ = split_by_client(clients, 0.2, seed=3)
    assert np.array_equal(train, again_train)


def correction_file(mnist, path: Path, clients: int = 4, per_client: int = 10) -> Path:
    count = clients * per_client
    data = corrections_data.CorrectionSet(
        mnist.x_train[-count:],
        mnist.y_train[-count:].astype(np.int64),
        np.array([f"session:{i // per_client}" for i in range(count)]),
        np.array([str(i) for i in range(count)]),
    )
    corrections_data.save_npz(data, path)
    return path


def retrain(path: Path, *extra: str) -> str:
    out = StringIO()
    call_command(
        "retrain_model",
        "--corrections",
        str(path),
        "--epochs",
        "1",
        "--limit",
        "200",
        "--mnist-per-correction",
        "10",
        "--seed",
        "5",
        *extra,
        stdout=out,
        verbosity=0,
    )
    return out.getvalue()


@pytest.mark.slow
def test_retrain_writes_a_gated_candidate_deterministically(mnist, tmp_path):
    path = correction_file(mnist, tmp_path / "c.npz")

    retrain(path)
    retrain(path)

    first, second = ModelVersion.objects.filter(origin="retrained").order_by("id")
    for entry in (first, second):
        assert entry.status == "candidate"
        assert entry.parent == versions.active_version().version
        meta = json.loads(
            versions.model_path(entry).with_suffix(".json").read_text(encoding="utf-8")
        )
        assert meta["version"] == entry.version
        assert meta["gate"] == entry.gate_report
        assert set(entry.gate_report["candidate"]) == {
            "mnist_test_accuracy",
            "corrections_accuracy",
        }
    runs = [ModelVersion.objects.get(pk=e.pk).metadata["retraining"] for e in (first, second)]
    assert runs[0]["corrections_trained"] + runs[0]["corrections_held_back"] == 40
    assert runs[0]["mnist_train_images"] == 10 * runs[0]["corrections_trained"]
    assert runs[0]["seed"] == 5
    assert runs[0]["data_sha256"] == runs[1]["data_sha256"]
    weights = [
        keras.models.load_model(versions.model_path(e), compile=False).get_weights()
        for e in (first, second)
    ]
    assert all(np.array_equal(a, b) for a, b in zip(*weights, strict=True))


def test_retrain_refuses_too_little_mnist_or_a_single_client(mnist, tmp_path):
    path = correction_file(mnist, tmp_path / "c.npz", clients=1)
    with pytest.raises(CommandError, match="at least 2 are needed"):
        retrain(path)
    with pytest.raises(CommandError, match="at least 10"):
        retrain(correction_file(mnist, tmp_path / "d.npz"), "--mnist-per-correction", "5")


def test_retrain_with_no_corrections_says_so(mnist):
    with pytest.raises(CommandError, match="no corrections"):
        call_command("retrain_model", "--limit", "100", stdout=StringIO())


def test_the_gate_allows_exactly_five_hundredths_of_a_point_less_on_mnist():
    from recognizer.registry.gate import judge

    active = {"mnist_test_accuracy": 0.9960, "corrections_accuracy": 0.5}
    at_floor = judge({"mnist_test_accuracy": 0.9955, "corrections_accuracy": 0.5}, active, 40)
    below = judge({"mnist_test_accuracy": 0.9954, "corrections_accuracy": 0.9}, active, 40)
    worse_held_back = judge(
        {"mnist_test_accuracy": 0.9970, "corrections_accuracy": 0.45}, active, 40
    )

    assert at_floor["passed"] is True
    assert below["passed"] is False and "MNIST" in below["reasons"][0]
    assert worse_held_back["passed"] is False and "held-back" in worse_held_back["reasons"][0]
