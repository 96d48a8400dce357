from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import mark_safe

from subscriptions.admin import actions
from subscriptions.admin.base import PortalAdmin, ReadOnlyAdmin, ReadOnlyInline
from subscriptions.admin.scale import ScaledAdminMixin
from subscriptions.models import (
    Contact,
    InboundReceipt,
    Keyword,
    KeywordKind,
    ShortCode,
    ShortCodeStop,
    Subscription,
    SubscriptionEvent,
)
from subscriptions.reporting import evidence
from subscriptions.reporting.csv_export import streaming_csv_response

TIMELINE_LIMIT = 500
EXPORT_EVIDENCE = "subscriptions.export_evidence"


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


class SubscriptionInline(ReadOnlyInline):
    model = Subscription
    fields = ["short_code", "keyword", "status", "changed_at", "last_source"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("short_code", "keyword")


class StopInline(ReadOnlyInline):
    model = ShortCodeStop
    fields = ["short_code", "created_at", "source", "cleared_at"]
    readonly_fields = fields
    show_change_link = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("short_code")


TIMELINE_ROW = (
    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
    "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>"
)
TIMELINE_HEAD = mark_safe(
    "<thead><tr><th>Recorded</th><th>Occurred</th><th>Code</th><th>Keyword</th>"
    "<th>Action</th><th>Status</th><th>Outcome</th><th>Source / actor</th>"
    "<th>Consent text</th><th>IP / user agent</th></tr></thead>"
)


@admin.register(Contact)
class ContactAdmin(actions.ActionPermissions, ScaledAdminMixin, ReadOnlyAdmin):
    list_display = ["phone", "locale", "created_at"]
    search_fields = ["phone"]
    phone_lookup = "phone"
    fields = ["phone", "locale", "created_at", "evidence", "history_timeline"]
    readonly_fields = ["evidence", "history_timeline"]
    inlines = [SubscriptionInline, StopInline]
    actions = [actions.preferences_link]

    def get_urls(self):
        return [
            path(
                "<int:pk>/evidence.csv",
                self.admin_site.admin_view(self.evidence_csv),
                name="subscriptions_contact_evidence",
            ),
            *super().get_urls(),
        ]

    def evidence_csv(self, request, pk):
        if not request.user.has_perm(EXPORT_EVIDENCE):
            raise PermissionDenied
        contact = get_object_or_404(Contact, pk=pk)
        return streaming_csv_response(
            evidence.timeline_rows(contact), f"consent-evidence-{contact.phone.lstrip('+')}.csv"
        )

    @admin.display(description="Consent evidence")
    def evidence(self, contact):
        url = reverse("admin:subscriptions_contact_evidence", args=[contact.pk])
        return format_html(
            '<a class="button" href="{}">Download the complete timeline (CSV)</a>', url
        )

    @admin.display(description="History (newest first)")
    def history_timeline(self, contact):
        events = list(
            SubscriptionEvent.objects.filter(contact=contact)
            .select_related("short_code", "keyword")
            .order_by("-recorded_at", "-id")[: TIMELINE_LIMIT + 1]
        )
        rows = format_html_join(
            "",
            TIMELINE_ROW,
            (
                (
                    e.recorded_at,
                    e.occurred_at,
                    e.short_code.code,
                    e.keyword.word if e.keyword else "(code-wide)",
                    e.get_action_display(),
                    f"{e.old_status or '-'} → {e.new_status or '-'}",
                    e.outcome + (f": {e.reason}" if e.reason else ""),
                    f"{e.source} {e.actor_label}".strip(),
                    e.consent_text,
                    f"{e.ip_address or ''} {e.user_agent}".strip(),
                )
                for e in events[:TIMELINE_LIMIT]
            ),
        )
        more = ""
        if len(events) > TIMELINE_LIMIT:
            url = reverse("admin:subscriptions_subscriptionevent_changelist")
            more = format_html(
                '<p>Only the newest {} shown: <a href="{}?{}">all events</a>, '
                "or the evidence CSV.</p>",
                TIMELINE_LIMIT,
                url,
                urlencode({"q": contact.phone}),
            )
        return format_html(
            '<table id="timeline">{}<tbody>{}</tbody></table>{}', TIMELINE_HEAD, rows, more
        )

    def get_fields(self, request, obj=None):
        fields = super().get_fields(request, obj)
        if not request.user.has_perm(EXPORT_EVIDENCE):
            fields = [f for f in fields if f != "evidence"]
        return fields


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
    list_display = ["contact", "short_code", "keyword", "status", "changed_at", "last_source"]
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
