"""The JSON API's shapes, as pydantic schemas.

Each schema is the single statement of one request or answer: django-ninja
validates requests with it, turns its failures into the error message, and
writes it into the OpenAPI document at /api/openapi.json. A field's message
for people sits on the field (``refused_with``), so the rule and its wording
stay together.
"""

import json
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from django.urls import reverse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, WrapValidator, model_validator
from pydantic_core import PydanticCustomError

from recognizer.storage.models import SOURCE_CANVAS, SOURCE_UPLOAD, SOURCES, PredictRecord
from recognizer.storage.records import NEWER, OLDER

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# What Cursor.parse accepts: a direction and a time-based (version 1) UUID.
_HEX = "[0-9a-fA-F]"
CURSOR_PATTERN = (
    rf"^({OLDER}|{NEWER}):{_HEX}{{8}}-{_HEX}{{4}}-1{_HEX}{{3}}-[89abAB]{_HEX}{{3}}-{_HEX}{{12}}$"
)
REFUSED = "refused"


def refused_with(message: str) -> WrapValidator:
    """Replace whatever pydantic says about a bad value with ``message``."""

    def validate(value: Any, handler: Any) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError(REFUSED, message) from None

    return WrapValidator(validate)


def first_error(errors: list[dict]) -> str:
    """One sentence for a person from pydantic's (or ninja's) list of errors."""
    error = errors[0]
    if error["type"] == REFUSED:
        return error["msg"]
    fields = [part for part in error["loc"] if isinstance(part, str)]
    # ninja puts where the value came from ("body", "query", ...) first.
    field = fields[-1] if fields else ""
    if error["type"] in ("model_type", "model_attributes_type", "dict_type") or not field:
        return "The JSON body must be an object."
    if error["type"] == "missing":
        return f"'{field}' is required."
    return f"'{field}': {error['msg']}."


class InvalidBody(ValueError):
    """A request body that is not a JSON document we can read."""


def json_object(body: bytes) -> Any:
    """The parsed body; any way the parser can fail is one InvalidBody."""
    try:
        return json.loads(body.decode("utf-8"))
    except RecursionError:
        raise InvalidBody("The JSON body is nested too deeply.") from None
    except json.JSONDecodeError:
        raise InvalidBody("The body is not valid JSON.") from None
    except UnicodeDecodeError:
        raise InvalidBody("The body is not valid JSON.") from None
    except ValueError:
        # int() refuses numbers over sys.get_int_max_str_digits() digits.
        raise InvalidBody("A number in the JSON body is too long.") from None


SourceField = Annotated[
    Literal[SOURCES],
    refused_with(f"'source' must be one of: {', '.join(SOURCES)}."),
]
Digit = Annotated[int, Field(ge=0, le=9)]
Correction = Annotated[
    Digit | None,
    Field(strict=True),
    refused_with("The correction must be a digit from 0 to 9."),
]

NUMBER_RULE = "A number is 1 to 10 digits, like 2026 or 007."
NumberText = Annotated[
    str,
    Field(strict=True, pattern=r"^[0-9]{1,10}$", examples=["2026"]),
    refused_with(NUMBER_RULE),
]


class Error(BaseModel):
    error: str = Field(description="what was wrong, for a person")


class ImageJson(BaseModel):
    """application/json: the picture as text."""

    image: Annotated[
        str,
        Field(min_length=1, description="a data:image/...;base64 URL, or base64"),
        refused_with("No image was sent."),
    ]
    source: SourceField = SOURCE_CANVAS
    filename: Annotated[
        str | None, Field(strict=True), refused_with("'filename' must be a string.")
    ] = None

    @model_validator(mode="before")
    @classmethod
    def _image_is_there(cls, data: Any) -> Any:
        if isinstance(data, dict) and "image" not in data:
            raise PydanticCustomError(REFUSED, "No image was sent.")
        return data


class ImageUpload(BaseModel):
    """multipart/form-data: the picture as a file."""

    image: Annotated[bytes, Field(json_schema_extra={"format": "binary"}, min_length=1)]
    source: SourceField = SOURCE_UPLOAD


class LabelChange(BaseModel):
    """The user's correction: ``{"number": "2026"}``, or ``{"label": 7}`` for one digit;
    null removes it."""

    label: Correction = Field(None, description="the digit the drawing really is, or null")
    number: Annotated[NumberText | None, refused_with(NUMBER_RULE)] = Field(
        None, description="the number the drawing really is (leading zeros kept), or null"
    )

    @model_validator(mode="before")
    @classmethod
    def _label_is_there(cls, data: Any) -> Any:
        # An empty body must not erase a correction by accident.
        if isinstance(data, dict) and not ({"label", "number"} & data.keys()):
            raise PydanticCustomError(
                REFUSED,
                'Send the field to change: {"number": "2026"} or {"label": 7}; '
                '{"number": null} or {"label": null} removes the correction.',
            )
        if isinstance(data, dict) and {"label", "number"} <= data.keys():
            raise PydanticCustomError(REFUSED, "Send 'number' or 'label', not both.")
        return data

    def corrected_number(self) -> str | None:
        return self.number if self.label is None else str(self.label)


class ListQuery(BaseModel):
    limit: Annotated[
        int,
        Field(ge=1, le=MAX_LIMIT),
        refused_with(f"'limit' must be a whole number from 1 to {MAX_LIMIT}."),
    ] = DEFAULT_LIMIT
    cursor: Annotated[
        str | None,
        Field(pattern=CURSOR_PATTERN, description="next_cursor or prev_cursor of a page"),
        refused_with("The page cursor is not valid."),
    ] = None
    digit: Annotated[Digit | None, refused_with("'digit' must be a digit from 0 to 9.")] = None
    source: SourceField | None = None
    model_version: Annotated[
        str | None, Field(max_length=80, description="only predictions by this model version")
    ] = None
    number: Annotated[NumberText | None, Field(description="exact match")] = None


class DigitResult(BaseModel):
    """One digit of the number, left to right."""

    digit: Digit
    confidence: float = Field(ge=0, le=1)
    probabilities: list[float] = Field(min_length=10, max_length=10)
    box: list[int] | None = Field(
        min_length=4,
        max_length=4,
        description="[x, y, width, height] in the pixels of the image sent; null for "
        "records made before numbers were read",
    )
    unsure: bool


class Record(BaseModel):
    """One stored prediction."""

    id: uuid.UUID = Field(description="time-based UUID")
    number: str | None = Field(
        description='the digits read, e.g. "2026"; null when the verdict is no_digit'
    )
    digits: list[DigitResult] = Field(description="left to right; empty for no_digit")
    digit: Digit | None = Field(
        description="the digit, when the number has one; null for longer numbers and no_digit"
    )
    confidence: float = Field(ge=0, le=1, description="of the least sure digit")
    probabilities: list[float] = Field(
        min_length=10, max_length=10, description="of the least sure digit"
    )
    unsure: bool = Field(description="true if any digit is unsure")
    verdict: Literal["digit", "unsure", "no_digit"] = Field(
        description="digit: read; unsure: probably this number (a digit is unsure, or a "
        "piece of ink looks like no digit); no_digit: nothing reads as a digit"
    )
    label: Digit | None = Field(description="the user's correction, when it is one digit")
    corrected_number: str | None = Field(description="the user's correction")
    source: Literal[SOURCES]
    filename: str | None
    created_at: datetime
    model_version: str
    url: str


class CreatedRecord(Record):
    spooled: bool = Field(
        description="Cassandra was down: the record is safe on local disk and readable "
        "here once it is replayed"
    )
    edit_token: str = Field(
        description="send it in the X-Edit-Token header to correct this prediction; "
        "shown once, stored only as a hash"
    )


class RecordPage(BaseModel):
    results: list[Record]
    next_cursor: str | None = Field(description="older records")
    prev_cursor: str | None = Field(description="newer records")


class HealthPart(BaseModel):
    ok: bool
    detail: Any


class SpoolStatus(BaseModel):
    pending: int = Field(description="records waiting for Cassandra")
    oldest_age_seconds: int | None = Field(
        description="how long the oldest waiting record has waited; null when none waits"
    )


class HealthReport(BaseModel):
    # Other parts may be added to the report; the answer keeps them.
    model_config = ConfigDict(extra="allow")

    ok: bool = Field(
        description="the model is loaded and a probe record can be written to and read "
        "from Cassandra"
    )
    model: HealthPart
    cassandra: HealthPart
    spool: SpoolStatus


def record_json(record: PredictRecord) -> dict:
    """The API's view of a record: the one place that decides what a client sees."""
    return {
        "id": record.id,
        "number": record.number,
        "digits": record.digit_results(),
        "digit": record.digit,
        "confidence": record.confidence,
        "probabilities": list(record.probabilities),
        "unsure": bool(record.unsure),
        "verdict": record.answer,
        "label": record.label,
        "corrected_number": record.corrected_number,
        "source": record.source,
        "filename": record.filename,
        "created_at": record.created_at,
        "model_version": record.model_version,
        "url": reverse("api:prediction", args=[record.id]),
    }
