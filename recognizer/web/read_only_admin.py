"""An admin page that shows records but never adds, edits or deletes them through
Django's forms (predictions live in Cassandra, model versions change only by
promote and roll back)."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
