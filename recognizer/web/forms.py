"""Forms turn raw requests into domain values: image bytes, a digit, a cursor."""

from urllib.parse import urlencode

from django import forms
from django.core.validators import RegexValidator

from recognizer.recognition import inputs
from recognizer.storage.models import SOURCES
from recognizer.storage.records import Cursor, InvalidCursor

DIGIT_CHOICES = [(str(d), str(d)) for d in range(10)]


class CanvasForm(forms.Form):
    """The drawing, sent by the canvas page as a PNG data URL."""

    image = forms.CharField(
        widget=forms.HiddenInput, error_messages={"required": "Draw a digit first."}
    )

    def clean_image(self) -> bytes:
        try:
            return inputs.decode_image_text(self.cleaned_data["image"])
        except inputs.InvalidInput as exc:
            raise forms.ValidationError(str(exc)) from None


class UploadForm(forms.Form):
    image = forms.FileField(
        label="Picture of a digit",
        # capture: phones offer the camera straight away.
        widget=forms.ClearableFileInput(attrs={"accept": "image/*", "capture": "environment"}),
        error_messages={"required": "Choose a picture of a digit.", "empty": "The file is empty."},
    )

    def clean_image(self) -> bytes:
        upload = self.cleaned_data["image"]
        try:
            return inputs.read_upload(upload)
        except inputs.InvalidInput as exc:
            raise forms.ValidationError(str(exc)) from None

    @property
    def filename(self) -> str | None:
        upload = self.files.get("image")
        return upload.name if upload else None


NUMBER_FIELD = {
    "required": False,
    "max_length": 10,
    "validators": [
        RegexValidator(r"^[0-9]{1,10}$", "A number is 1 to 10 digits, like 2026 or 007.")
    ],
    "error_messages": {"max_length": "A number is 1 to 10 digits, like 2026 or 007."},
}


class LabelForm(forms.Form):
    """The user's correction: the number (or the one digit, as ``label``) it really was."""

    label = forms.TypedChoiceField(
        choices=DIGIT_CHOICES,
        coerce=int,
        empty_value=None,
        required=False,
        error_messages={"invalid_choice": "The correction must be a digit from 0 to 9."},
    )
    number = forms.CharField(**NUMBER_FIELD)

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        number, label = cleaned.get("number"), cleaned.get("label")
        if not number and label is None:
            raise forms.ValidationError(
                "A correction is required: the number it really was, like 2026."
            )
        cleaned["number"] = number or str(label)
        return cleaned

    def first_error(self) -> str:
        return next(iter(self.errors.values()))[0]


class HistoryFilterForm(forms.Form):
    digit = forms.TypedChoiceField(
        choices=[("", "Any digit")] + DIGIT_CHOICES, coerce=int, empty_value=None, required=False
    )
    source = forms.ChoiceField(
        choices=[("", "Any source")] + [(s, s.capitalize()) for s in SOURCES], required=False
    )
    model_version = forms.CharField(required=False, max_length=80, label="Model version")
    number = forms.CharField(**NUMBER_FIELD)
    cursor = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_number(self) -> str | None:
        return self.cleaned_data["number"] or None

    def clean_source(self) -> str | None:
        return self.cleaned_data["source"] or None

    def clean_model_version(self) -> str | None:
        return self.cleaned_data["model_version"].strip() or None

    def clean_cursor(self) -> Cursor | None:
        text = self.cleaned_data["cursor"]
        if not text:
            return None
        try:
            return Cursor.parse(text)
        except InvalidCursor as exc:
            raise forms.ValidationError(str(exc)) from None

    def filters(self) -> dict:
        """The filters, as keyword arguments for storage.list_records."""
        return {
            "digit": self.cleaned_data["digit"],
            "source": self.cleaned_data["source"],
            "model_version": self.cleaned_data["model_version"],
            "number": self.cleaned_data["number"],
        }

    def page_url(self, base_url: str, cursor: Cursor | None) -> str | None:
        """A link to the page at ``cursor`` with the same filters, or None."""
        if cursor is None:
            return None
        query = {k: v for k, v in self.filters().items() if v is not None}
        query["cursor"] = str(cursor)
        return f"{base_url}?{urlencode(query)}"
