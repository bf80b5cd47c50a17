"""The JSON API on django-ninja: the same pipeline and storage as the pages.

The schemas in ``schemas.py`` validate every request, word its errors and make
the OpenAPI document served at /api/openapi.json. The API authenticates nobody
and reads no cookies, so ninja's views are CSRF exempt; the CORS header and
preflight answers come from ``middleware.JsonApiMiddleware``.
"""

import uuid
from typing import TypeVar

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from ninja import NinjaAPI, Query, Status
from ninja.decorators import decorate_view
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import BaseModel, ValidationError

from recognizer.recognition import inputs
from recognizer.recognition.image_budget import ImageBudgetExceeded
from recognizer.recognition.pipeline import recognise_and_store
from recognizer.recognition.preprocessing import InvalidImage
from recognizer.storage import records
from recognizer.storage.models import SOURCE_UPLOAD
from recognizer.web import correction_access
from recognizer.web.clients import client_name
from recognizer.web.health import health_report
from recognizer.web.schemas import (
    CreatedRecord,
    Error,
    HealthReport,
    ImageJson,
    ImageUpload,
    InvalidBody,
    LabelChange,
    ListQuery,
    Record,
    RecordPage,
    first_error,
    json_object,
    record_json,
)

T = TypeVar("T", bound=BaseModel)
JSON = "application/json"
MULTIPART = "multipart/form-data"

api = NinjaAPI(
    title="Digit recognizer",
    version="1.0.0",
    description="Recognise handwritten digits, list and correct the stored predictions.",
    openapi_url="/api/openapi.json",
    docs_url=None,
    urls_namespace="api",
)


def _error(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return api.create_response(request, {"error": message}, status=status)


for _exception, _status in (
    (inputs.InputTooLarge, 413),
    (inputs.InvalidInput, 400),
    (InvalidImage, 400),
    (InvalidBody, 400),
    (HttpError, None),
):
    api.add_exception_handler(
        _exception,
        lambda request, exc, status=_status: _error(request, str(exc), status or exc.status_code),
    )
api.add_exception_handler(
    NinjaValidationError, lambda request, exc: _error(request, first_error(exc.errors), 400)
)
api.add_exception_handler(
    records.StorageUnavailable,
    lambda request, exc: _error(
        request, "Storage is unavailable right now; try again shortly.", 503
    ),
)


def _busy_decoding(request: HttpRequest, exc: ImageBudgetExceeded) -> HttpResponse:
    response = _error(request, str(exc), 503)
    response["Retry-After"] = str(exc.retry_after)
    return response


api.add_exception_handler(ImageBudgetExceeded, _busy_decoding)


def _media_type(request: HttpRequest) -> str:
    return request.content_type.split(";")[0].strip().lower()


def _validated(schema: type[T], data: object) -> T:
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        raise HttpError(400, first_error(exc.errors())) from None


def _request_body(media_types: dict[str, type[BaseModel]]) -> dict:
    """The OpenAPI requestBody of a body this module reads itself: ninja declares
    one media type per body, and predictions take two."""
    content = {
        media_type: {"schema": schema.model_json_schema()}
        for media_type, schema in media_types.items()
    }
    return {"requestBody": {"required": True, "content": content}}


def _image(request: HttpRequest) -> tuple[bytes, str, str | None]:
    """(image bytes, source, filename) from a multipart upload or a JSON body."""
    if not request.body:
        raise HttpError(
            400, "The request body is empty: send an 'image' as multipart/form-data or as JSON."
        )
    media_type = _media_type(request)
    if media_type == MULTIPART:
        upload = request.FILES.get("image")
        if upload is None:
            raise HttpError(400, "Send the picture in a multipart field named 'image'.")
        data = inputs.read_upload(upload)
        fields = {"image": data, "source": request.POST.get("source") or SOURCE_UPLOAD}
        return data, _validated(ImageUpload, fields).source, upload.name
    if media_type == JSON:
        body = _validated(ImageJson, json_object(request.body))
        return inputs.decode_image_text(body.image), body.source, body.filename
    raise HttpError(
        415,
        "Send multipart/form-data with an 'image' file, or application/json with an 'image' "
        "data URL or base64 string.",
    )


@api.post(
    "/api/predictions/",
    # 429 comes from the front door's rate limit on writes; 503 from the image budget
    # (too many expensive images at once) or a front door that cannot reach gunicorn.
    response={201: CreatedRecord, 400: Error, 413: Error, 415: Error, 429: Error, 503: Error},
    url_name="predictions",
    summary="Recognise a digit and store the prediction",
    openapi_extra=_request_body({MULTIPART: ImageUpload, JSON: ImageJson}),
)
def create_prediction(request: HttpRequest, response: HttpResponse):
    data, source, filename = _image(request)
    record = recognise_and_store(data, source, filename)
    # "edit_token": the only way (besides an admin) to correct this record later.
    body = {**record_json(record), "spooled": record.spooled, "edit_token": record.edit_token}
    response["Location"] = body["url"]
    return Status(201, body)


@api.get(
    "/api/predictions/",
    # 414 comes from gunicorn, in HTML, before Django: a request line over 4 KiB.
    response={200: RecordPage, 400: Error, 414: None, 503: Error},
    summary="List predictions, newest first",
)
def list_predictions(request: HttpRequest, query: Query[ListQuery]):
    cursor = records.Cursor.parse(query.cursor) if query.cursor else None
    page = records.list_records(
        query.limit,
        cursor,
        digit=query.digit,
        source=query.source,
        model_version=query.model_version,
    )
    return {
        "results": [record_json(record) for record in page.records],
        "next_cursor": str(page.next_cursor) if page.next_cursor else None,
        "prev_cursor": str(page.prev_cursor) if page.prev_cursor else None,
    }


def _record_or_404(record_id: uuid.UUID) -> records.PredictRecord:
    record = records.get_record(record_id)
    if record is None:
        raise HttpError(404, "No prediction has this id.")
    return record


@api.get(
    "/api/predictions/{uuid:record_id}/",
    response={200: Record, 404: Error, 503: Error},
    url_name="prediction",
    summary="One prediction",
)
def get_prediction(request: HttpRequest, record_id: uuid.UUID):
    return record_json(_record_or_404(record_id))


class TooManyCorrections(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"Too many corrections: try again in {retry_after} seconds.")
        self.retry_after = retry_after


def _too_many(request: HttpRequest, exc: TooManyCorrections) -> HttpResponse:
    response = _error(request, str(exc), 429)
    response["Retry-After"] = str(exc.retry_after)
    return response


api.add_exception_handler(TooManyCorrections, _too_many)

EDIT_TOKEN_HEADER = {
    "parameters": [
        {
            "name": "X-Edit-Token",
            "in": "header",
            "schema": {"type": "string"},
            "description": "the edit_token the prediction was made with (admins need none)",
        }
    ]
}


@api.patch(
    "/api/predictions/{uuid:record_id}/",
    response={200: Record, 400: Error, 403: Error, 404: Error, 415: Error, 429: Error, 503: Error},
    summary="Store the user's correction",
    openapi_extra={**_request_body({JSON: LabelChange}), **EDIT_TOKEN_HEADER},
)
def correct_prediction(request: HttpRequest, record_id: uuid.UUID):
    record = _record_or_404(record_id)
    if not correction_access.may_correct(request, record, request.headers.get("X-Edit-Token")):
        raise HttpError(
            403, "Send the prediction's edit_token in the X-Edit-Token header to correct it."
        )
    if _media_type(request) != JSON:
        raise HttpError(415, 'Send the correction as application/json: {"label": 7}.')
    change = _validated(LabelChange, json_object(request.body))
    if (wait := correction_access.retry_after(request)) is not None:
        raise TooManyCorrections(wait)
    return record_json(records.set_label(record.id, change.label, client_name(request)))


@api.get(
    "/healthz",
    response={200: HealthReport, 503: HealthReport},
    url_name="healthz",
    summary="Model, Cassandra and spool status",
)
@decorate_view(never_cache)
def healthz(request: HttpRequest):
    report = health_report()
    return Status(200 if report["ok"] else 503, report)
