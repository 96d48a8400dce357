from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import path

from subscriptions.admin import actions
from subscriptions.admin.base import PortalAdmin, ReadOnlyAdmin, compact_time
from subscriptions.admin.scale import ScaledAdminMixin
from subscriptions.models import (
    InboundReceipt,
    Keyword,
    KeywordKind,
    ShortCode,
    ShortCodeStop,
    Subscription,
    SubscriptionEvent,
)
from subscriptions.reporting.csv_export import streaming_csv_response


class KeywordInline(admin.TabularInline):
    model = Keyword
    extra = 0
    can_delete = False
    fields = [
        "word",
        "kind",
        "title",
        "provider_ref",
        "double_opt_in",
        "is_public",
        "provider",
        "discovered",
    ]
    readonly_fields = ["discovered"]


@admin.register(ShortCode)
class ShortCodeAdmin(PortalAdmin):
    list_display = ["code", "name", "brand", "provider", "double_opt_in_window_hours"]
    search_fields = ["code", "name", "brand"]
    list_select_related = ["provider"]
    inlines = [KeywordInline]

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Keyword)
class KeywordAdmin(PortalAdmin):
    list_display = [
        "word",
        "short_code",
        "kind",
        "title",
        "double_opt_in",
        "is_public",
        "discovered",
    ]
    list_filter = ["kind", "double_opt_in", "is_public", "discovered"]
    search_fields = ["word", "title", "short_code__code"]
    list_select_related = ["short_code"]

    def has_delete_permission(self, request, obj=None):
        return False


class SubscriptionExportMixin:
    """CSV export of the list as filtered on screen (same query string)."""

    export_columns = [
        "phone",
        "short_code",
        "keyword",
        "status",
        "changed_at",
        "last_source",
        "last_occurred_at",
    ]

    def get_urls(self):
        return [
            path(
                "export.csv",
                self.admin_site.admin_view(self.export_csv),
                name="subscriptions_subscription_export",
            ),
            *super().get_urls(),
        ]

    def export_csv(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        queryset = changelist.get_queryset(request)
        rows = queryset.values_list(
            "contact__phone",
            "short_code__code",
            "keyword__word",
            "status",
            "changed_at",
            "last_source",
            "last_occurred_at",
        )
        return streaming_csv_response(
            _with_header(self.export_columns, rows.iterator(chunk_size=5000)), "subscriptions.csv"
        )


def _with_header(header, rows):
    yield header
    yield from rows


class ProgramFilter(admin.SimpleListFilter):
    """Keyword filter with its short code read in the same query (Keyword.__str__ needs it)."""

    title = "program"
    parameter_name = "keyword__id__exact"

    def lookups(self, request, model_admin):
        programs = (
            Keyword.objects.filter(kind=KeywordKind.PROGRAM)
            .select_related("short_code")
            .order_by("short_code__code", "word")
        )
        return [(k.pk, f"{k.word} on {k.short_code.code}") for k in programs]

    def queryset(self, request, queryset):
        return queryset.filter(keyword_id=self.value()) if self.value() else queryset


@admin.register(Subscription)
class SubscriptionAdmin(
    SubscriptionExportMixin, actions.ActionPermissions, ScaledAdminMixin, ReadOnlyAdmin
):
    list_display = ["contact", "short_code", "keyword", "status", "changed", "last_source"]
    changed = compact_time("changed_at", "Changed")
    list_filter = ["status", "short_code", ProgramFilter, "last_source", "changed_at"]
    search_fields = ["contact__phone"]
    list_select_related = ["contact", "short_code", "keyword__short_code"]
    actions = [actions.opt_out, actions.stop_all, actions.retry_provider_sync]


@admin.register(ShortCodeStop)
class ShortCodeStopAdmin(ScaledAdminMixin, ReadOnlyAdmin):
    list_display = ["contact", "short_code", "created_at", "source", "cleared_at"]
    list_select_related = ["contact", "short_code"]
    search_fields = ["contact__phone"]


@admin.register(SubscriptionEvent)
class SubscriptionEventAdmin(ScaledAdminMixin, ReadOnlyAdmin):
    list_display = [
        "recorded_at",
        "contact",
        "short_code",
        "keyword",
        "action",
        "old_status",
        "new_status",
        "outcome",
        "source",
        "actor_label",
    ]
    list_filter = ["source", "action", "outcome"]
    search_fields = ["contact__phone"]
    list_select_related = ["contact", "short_code", "keyword__short_code"]
    actions = None


@admin.register(InboundReceipt)
class InboundReceiptAdmin(ReadOnlyAdmin):
    list_display = ["source", "external_id", "received_at", "repeats", "last_repeat_at"]
    search_fields = ["external_id"]
    show_full_result_count = False
