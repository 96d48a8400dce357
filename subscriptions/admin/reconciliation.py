"""Reconciliation runs and the drift they found (read-only): filters by what each side holds
and what was done, and a CSV export of the list as filtered on screen."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import path

from subscriptions.admin.base import ReadOnlyAdmin, ReadOnlyInline
from subscriptions.models import Drift, Reconciliation, ReconciliationBatch
from subscriptions.reporting.csv_export import streaming_csv_response

EXPORT_COLUMNS = [
    "reconciliation",
    "provider",
    "phone",
    "short_code",
    "keyword",
    "portal",
    "provider_holds",
    "action",
    "found_at",
]


class BatchInline(ReadOnlyInline):
    model = ReconciliationBatch
    fields = ["first_contact_id", "last_contact_id", "checked", "finished_at"]
    show_change_link = False


@admin.register(Reconciliation)
class ReconciliationAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "provider",
        "short_code",
        "status",
        "dry_run",
        "checked",
        "in_step",
        "drift",
        "started_at",
        "finished_at",
    ]
    list_filter = ["status", "dry_run", "provider"]
    list_select_related = ["provider", "short_code"]
    inlines = [BatchInline]


@admin.register(Drift)
class DriftAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "contact",
        "short_code",
        "keyword",
        "portal",
        "provider",
        "action",
        "reconciliation",
    ]
    list_filter = ["action", "portal", "provider", "reconciliation__provider", "short_code"]
    list_select_related = ["contact", "short_code", "keyword", "reconciliation__provider"]
    search_fields = ["contact__phone"]
    show_full_result_count = False

    def get_urls(self):
        return [
            path(
                "export.csv",
                self.admin_site.admin_view(self.export_csv),
                name="subscriptions_drift_export",
            ),
            *super().get_urls(),
        ]

    def export_csv(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        queryset = self.get_changelist_instance(request).get_queryset(request)
        rows = queryset.values_list(
            "reconciliation_id",
            "reconciliation__provider__name",
            "contact__phone",
            "short_code__code",
            "keyword__word",
            "portal",
            "provider",
            "action",
            "created_at",
        )
        return streaming_csv_response(_with_header(rows.iterator(chunk_size=5000)), "drift.csv")


def _with_header(rows):
    yield EXPORT_COLUMNS
    yield from rows
