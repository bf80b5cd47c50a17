"""Model versions in the admin: metrics and gate report, promote and roll back.

Status changes go through ``versions`` (the same functions the commands call),
never through a form: the pointer the web workers watch must change with them.
"""

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html

from recognizer.registry import live_chart, versions
from recognizer.registry.models import ModelVersion
from recognizer.web.read_only_admin import ReadOnlyAdmin


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _cell(key: str, value: float | None) -> str:
    if value is None:
        return "-"
    return _percent(value) if key.startswith("share") else f"{value:.0f}"


@admin.register(ModelVersion)
class ModelVersionAdmin(ReadOnlyAdmin):
    list_display = (
        "version",
        "status",
        "origin",
        "mnist_test",
        "held_back_corrections",
        "gate_passed",
        "created_at",
        "activated_at",
    )
    list_filter = ("status", "origin")
    readonly_fields = (
        "version",
        "status",
        "origin",
        "parent",
        "model_file",
        "mnist_test",
        "held_back_corrections",
        "gate_passed",
        "gate",
        "created_at",
        "activated_at",
        "rolled_back_at",
        "metadata_json",
    )
    fields = readonly_fields
    actions = ("promote_selected", "roll_back")

    change_list_template = "admin/registry/modelversion/change_list.html"

    def get_urls(self):
        live = path(
            "live/", self.admin_site.admin_view(self.live_view), name="registry_modelversion_live"
        )
        return [live, *super().get_urls()]

    def live_view(self, request):
        """Predictions, corrections and the shares corrected and "not sure", per model
        version and day, as server-drawn SVG lines and a table."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            days = min(max(int(request.GET.get("days", "14")), 2), 90)
        except ValueError:
            days = 14
        dates, charts = live_chart.build(days)
        rows = [
            {
                "day": day,
                "version": series.version,
                "values": [_cell(chart.key, chart.series[i].values[d]) for chart in charts],
            }
            for d, day in enumerate(dates)
            for i, series in enumerate(charts[0].series)
            if series.values[d] is not None
        ]
        width, height, pad = live_chart.WIDTH, live_chart.HEIGHT, live_chart.PAD
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": "Model versions in use",
            "dates": dates,
            "charts": charts,
            "rows": rows,
            "width": width,
            "height": height,
            "pad": pad,
            "bottom": height - pad,
            "right": width - pad,
        }
        return TemplateResponse(request, "admin/registry/modelversion/live.html", context)

    def get_queryset(self, request):
        versions.ensure_seeded()
        return super().get_queryset(request)

    @admin.display(description="MNIST test")
    def mnist_test(self, entry: ModelVersion) -> str:
        return _percent(entry.mnist_test_accuracy)

    @admin.display(description="held-back corrections")
    def held_back_corrections(self, entry: ModelVersion) -> str:
        return _percent(entry.corrections_accuracy)

    @admin.display(description="gate report")
    def gate(self, entry: ModelVersion) -> str:
        report = entry.gate_report or {}
        if not report:
            return "-"
        rows = [
            (
                name,
                _percent(report[name]["mnist_test_accuracy"]),
                _percent(report[name]["corrections_accuracy"]),
            )
            for name in ("candidate", "active")
        ]
        verdict = "passed" if report.get("passed") else "failed: " + "; ".join(report["reasons"])
        return format_html(
            "<table><tr><th></th><th>MNIST test</th><th>held-back corrections ({})</th></tr>"
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr><tr><td>{}</td><td>{}</td><td>{}</td></tr>"
            "</table><p>{}</p>",
            report.get("held_back_corrections", 0),
            *rows[0],
            *rows[1],
            verdict,
        )

    @admin.display(description="metadata")
    def metadata_json(self, entry: ModelVersion) -> str:
        return format_html("<pre>{}</pre>", json.dumps(entry.metadata, indent=2))

    @admin.action(
        description="Promote the selected version (gate must have passed)",
        permissions=["promote"],
    )
    def promote_selected(self, request, queryset) -> None:
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version to promote.", messages.ERROR)
            return
        try:
            entry = versions.promote(queryset.get().version)
        except versions.RegistryError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"{entry.version} is now the active version.")

    @admin.action(description="Roll back to the previously active version", permissions=["promote"])
    def roll_back(self, request, queryset) -> None:
        try:
            entry = versions.rollback()
        except versions.RegistryError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, f"Rolled back: {entry.version} is active again.")

    def has_promote_permission(self, request) -> bool:
        # Versions are never edited through a form, but changing which one is active
        # is what the "change" permission means here.
        return request.user.has_perm("registry.change_modelversion")
