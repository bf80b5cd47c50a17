"""PredictRecord in the Django admin: a read-only, newest-first list with thumbnails.

Django's own change list builds relational querysets (Q objects, offsets,
counts) that Cassandra cannot run, so the list page is drawn from the same
cursor-paged records.list_records as the history page. The detail page is
Django's, with every field read-only.
"""

import uuid

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.html import format_html

from recognizer.recognition.images import IMAGE_SIDE
from recognizer.storage import records
from recognizer.storage.models import PredictRecord
from recognizer.templatetags.recognizer_extras import percent, png_data_url
from recognizer.web.forms import HistoryFilterForm
from recognizer.web.read_only_admin import ReadOnlyAdmin


@admin.register(PredictRecord)
class PredictRecordAdmin(ReadOnlyAdmin):
    readonly_fields = (
        "id",
        "created_at",
        "source",
        "filename",
        "thumbnail",
        "number",
        "digits",
        "digit",
        "confidence_percent",
        "unsure",
        "probabilities",
        "label",
        "corrected_number",
        "model_version",
    )
    fields = readonly_fields
    list_per_page = 50

    @admin.display(description="Image")
    def thumbnail(self, record: PredictRecord) -> str:
        return format_html(
            '<img src="{}" height="{}" alt="{}">',
            png_data_url(record.image),
            IMAGE_SIDE,
            record.number or "no digit",
        )

    @admin.display(description="Confidence")
    def confidence_percent(self, record: PredictRecord) -> str:
        return percent(record.confidence)

    def get_object(self, request, object_id, from_field=None):
        try:
            return records.get_record(uuid.UUID(str(object_id)))
        except ValueError:
            return None

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        form = HistoryFilterForm(request.GET)
        page = None
        if form.is_valid():
            page = records.list_records(
                self.list_per_page, form.cleaned_data["cursor"], **form.filters()
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Predictions",
            "form": form,
            "page": page,
            "next_url": form.page_url(request.path, page.next_cursor) if page else None,
            "prev_url": form.page_url(request.path, page.prev_cursor) if page else None,
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/recognizer/predictrecord/change_list.html", context)
