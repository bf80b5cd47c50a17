"""The pages: draw, upload, history, one record, and the health check."""

import uuid

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from recognizer.recognition.numbers import read_number
from recognizer.recognition.pipeline import recognise_and_store
from recognizer.recognition.preprocessing import InvalidImage
from recognizer.recognition.preview import picture_with_box
from recognizer.storage import records, spool
from recognizer.storage.models import SOURCE_CANVAS, SOURCE_UPLOAD
from recognizer.web import correction_access
from recognizer.web.clients import client_name
from recognizer.web.forms import CanvasForm, HistoryFilterForm, LabelForm, UploadForm
from recognizer.web.health import health_report

HISTORY_PAGE_SIZE = 20


def _is_fetch(request: HttpRequest) -> bool:
    # draw.js and result.js send this header; a plain form post does not.
    return request.headers.get("X-Requested-With") == "fetch"


def _recognise(request, form, source, filename, template, extra=None):
    """Validate, predict, store, then show the result (or why not) on ``template``."""
    context = {"form": form, **(extra or {})}
    status = 200
    if form.is_valid():
        try:
            data = form.cleaned_data["image"]
            context["record"] = record = recognise_and_store(data, source, filename)
            correction_access.remember(request, record)
            context["can_correct"] = True
            if source == SOURCE_UPLOAD:
                context["picture"] = picture_with_box(data, record.ink_box)
        except InvalidImage as exc:
            context["error"], status = str(exc), 400
    else:
        context["error"], status = form.errors["image"][0], 400
    if _is_fetch(request):
        return render(request, "recognizer/includes/_result.html", context, status=status)
    return render(request, template, context, status=status)


@require_http_methods(["GET", "POST"])
def draw(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _recognise(
            request, CanvasForm(request.POST), SOURCE_CANVAS, None, "recognizer/draw.html"
        )
    return render(request, "recognizer/draw.html", {"form": CanvasForm()})


@require_POST
def guess(request: HttpRequest) -> JsonResponse:
    """A live guess while the user draws: predicted, never stored."""
    form = CanvasForm(request.POST)
    if not form.is_valid():
        return JsonResponse({"error": form.errors["image"][0]}, status=400)
    try:
        reading = read_number(form.cleaned_data["image"])
    except InvalidImage as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    single = len(reading.digits) == 1
    return JsonResponse(
        {
            "number": reading.number,
            "digit": reading.digits[0].digit if single else None,
            "confidence": min(digit.confidence for digit in reading.digits),
            "unsure": reading.unsure,
            "verdict": reading.verdict,
        }
    )


@require_http_methods(["GET", "POST"])
def upload(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = UploadForm(request.POST, request.FILES)
        return _recognise(request, form, SOURCE_UPLOAD, form.filename, "recognizer/upload.html")
    return render(request, "recognizer/upload.html", {"form": UploadForm()})


def _record_or_404(record_id: uuid.UUID):
    record = records.get_record(record_id)
    if record is None:
        raise Http404("No prediction has this id.")
    return record


@require_POST
def label(request: HttpRequest, record_id: uuid.UUID) -> HttpResponse:
    """Store the user's correction (or confirmation) of a prediction."""
    record = _record_or_404(record_id)
    form = LabelForm(request.POST)
    status, message, wait = 400, None, None
    if not correction_access.may_correct(request, record):
        status, message = 403, "Only whoever made this prediction (or an admin) may correct it."
    elif not form.is_valid():
        message = form.first_error()
    elif (wait := correction_access.retry_after(request)) is not None:
        status, message = 429, f"Too many corrections: try again in {wait} seconds."
    if message is not None:
        if _is_fetch(request):
            response = JsonResponse({"error": message}, status=status)
        else:
            context = {"record": record, "error": message}
            response = render(request, "recognizer/record.html", context, status=status)
        if wait is not None:
            response["Retry-After"] = str(wait)
        return response
    record = records.set_corrected_number(
        record.id, form.cleaned_data["number"], client_name(request)
    )
    if _is_fetch(request):
        return JsonResponse(
            {"id": str(record.id), "label": record.label, "number": record.corrected_number}
        )
    return redirect("recognizer:record", record_id=record.id)


@require_GET
def history(request: HttpRequest) -> HttpResponse:
    form = HistoryFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "recognizer/history.html", {"form": form, "page": None}, status=400)
    page = records.list_records(HISTORY_PAGE_SIZE, form.cleaned_data["cursor"], **form.filters())
    base_url = reverse("recognizer:history")
    spooled = spool.pending_count()
    return render(
        request,
        "recognizer/history.html",
        {
            "form": form,
            "page": page,
            "next_url": form.page_url(base_url, page.next_cursor),
            "prev_url": form.page_url(base_url, page.prev_cursor),
            "spooled": spooled,
        },
    )


@require_GET
def record(request: HttpRequest, record_id: uuid.UUID) -> HttpResponse:
    record = _record_or_404(record_id)
    context = {
        "record": record,
        "label_form": LabelForm(),
        "can_correct": correction_access.may_correct(request, record),
    }
    return render(request, "recognizer/record.html", context)


@never_cache
@require_GET
def status(request: HttpRequest) -> HttpResponse:
    """The health report for people: is the site up, is Cassandra reachable."""
    report = health_report()
    return render(
        request, "recognizer/status.html", {"report": report}, status=200 if report["ok"] else 503
    )
