"""The JSON API: the same predictor and storage as the pages.

It authenticates nobody and reads no cookies, so cross-origin POSTs need no
CSRF token and get a permissive CORS header without credentials.
"""

import functools
import json
import uuid

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt

from recognizer.recognition import inputs
from recognizer.recognition.pipeline import recognise_and_store
from recognizer.recognition.preprocessing import InvalidImage
from recognizer.storage import records
from recognizer.storage.models import SOURCE_CANVAS, SOURCE_UPLOAD, SOURCES, PredictRecord
from recognizer.web import openapi
from recognizer.web.forms import HistoryFilterForm, LabelForm

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class ApiError(Exception):
    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


def record_json(record: PredictRecord) -> dict:
    return {
        "id": str(record.id),
        "digit": record.digit,
        "confidence": record.confidence,
        "probabilities": list(record.probabilities),
        "unsure": bool(record.unsure),
        "label": record.label,
        "source": record.source,
        "filename": record.filename,
        "created_at": record.created_at.isoformat().replace("+00:00", "Z"),
        "model_version": record.model_version,
        "url": reverse("api:prediction", args=[record.id]),
    }


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def api_view(methods: tuple[str, ...]):
    """JSON errors for every failure, CORS for every answer, CSRF exempt."""

    def decorate(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if request.method == "OPTIONS":
                response = HttpResponse(status=204)
                response["Access-Control-Allow-Methods"] = ", ".join((*methods, "OPTIONS"))
                response["Access-Control-Allow-Headers"] = "Content-Type"
                response["Access-Control-Max-Age"] = "600"
            elif request.method not in methods:
                response = _error(f"Method {request.method} is not allowed here.", 405)
                response["Allow"] = ", ".join(methods)
            else:
                try:
                    response = view(request, *args, **kwargs)
                except ApiError as exc:
                    response = _error(str(exc), exc.status)
                except inputs.InputTooLarge as exc:
                    response = _error(str(exc), 413)
                except (inputs.InvalidInput, InvalidImage) as exc:
                    response = _error(str(exc), 400)
                except records.StorageUnavailable:
                    response = _error("Storage is unavailable right now; try again shortly.", 503)
            response["Access-Control-Allow-Origin"] = "*"
            return response

        return wrapper

    return decorate


def _json_body(request: HttpRequest) -> dict:
    try:
        body = json.loads(request.body.decode("utf-8"))
    # Any parser failure is the client's: RecursionError comes from a body
    # nested deeper than the interpreter's stack (e.g. 100,000 "[").
    except (ValueError, RecursionError):
        raise ApiError("The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ApiError("The JSON body must be an object.")
    return body


def _content_type(request: HttpRequest) -> str:
    return request.content_type.split(";")[0].strip().lower()


def _image_from_request(request: HttpRequest) -> tuple[bytes, str, str | None]:
    """(image bytes, source, filename) from a multipart upload or a JSON body."""
    if not request.body:
        raise ApiError(
            "The request body is empty: send an 'image' as multipart/form-data or as JSON."
        )
    content_type = _content_type(request)
    if content_type == "multipart/form-data":
        upload = request.FILES.get("image")
        if upload is None:
            raise ApiError("Send the picture in a multipart field named 'image'.")
        source = request.POST.get("source") or SOURCE_UPLOAD
        return inputs.read_upload(upload), _checked_source(source), upload.name
    if content_type == "application/json":
        body = _json_body(request)
        source = body.get("source", SOURCE_CANVAS)
        filename = body.get("filename")
        if filename is not None and not isinstance(filename, str):
            raise ApiError("'filename' must be a string.")
        return inputs.decode_image_text(body.get("image")), _checked_source(source), filename
    raise ApiError(
        "Send multipart/form-data with an 'image' file, or application/json with an 'image' "
        "data URL or base64 string.",
        status=415,
    )


def _checked_source(source) -> str:
    if source not in SOURCES:
        raise ApiError(f"'source' must be one of: {', '.join(SOURCES)}.")
    return source


def _limit(request: HttpRequest) -> int:
    raw = request.GET.get("limit", str(DEFAULT_LIMIT))
    try:
        limit = int(raw)
    except ValueError:
        raise ApiError("'limit' must be a whole number.") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(f"'limit' must be between 1 and {MAX_LIMIT}.")
    return limit


@api_view(("GET", "POST"))
def predictions(request: HttpRequest) -> JsonResponse:
    if request.method == "POST":
        data, source, filename = _image_from_request(request)
        record = recognise_and_store(data, source, filename)
        # "spooled": Cassandra was down; the record is safe on local disk and
        # will be readable here once it is replayed.
        response = JsonResponse({**record_json(record), "spooled": record.spooled}, status=201)
        response["Location"] = record_json(record)["url"]
        return response

    form = HistoryFilterForm(request.GET)
    if not form.is_valid():
        field, errors = next(iter(form.errors.items()))
        raise ApiError(f"'{field}': {errors[0]}")
    page = records.list_records(_limit(request), form.cleaned_data["cursor"], **form.filters())
    return JsonResponse(
        {
            "results": [record_json(record) for record in page.records],
            "next_cursor": str(page.next_cursor) if page.next_cursor else None,
            "prev_cursor": str(page.prev_cursor) if page.prev_cursor else None,
        }
    )


@api_view(("GET", "PATCH"))
def prediction(request: HttpRequest, record_id: uuid.UUID) -> JsonResponse:
    record = records.get_record(record_id)
    if record is None:
        raise ApiError("No prediction has this id.", status=404)
    if request.method == "PATCH":
        if _content_type(request) != "application/json":
            raise ApiError('Send the correction as application/json: {"label": 7}.', status=415)
        body = _json_body(request)
        label = body.get("label")
        if label is not None:
            if isinstance(label, bool) or not isinstance(label, int):
                raise ApiError("The correction must be a digit from 0 to 9.")
            form = LabelForm({"label": str(label)})
            if not form.is_valid():
                raise ApiError(form.errors["label"][0])
        record = records.set_label(record.id, label)
    return JsonResponse(record_json(record))


@api_view(("GET",))
def openapi_document(request: HttpRequest) -> JsonResponse:
    return JsonResponse(openapi.SPEC)
