"""The contact page: current state first (subscriptions, STOPs, open revocations), then the
number's timeline (history events, texts sent, provider deliveries and answers) newest
first in the staff member's time zone, filterable by code and program, and the consent
certificate in three formats for those who may export evidence."""

from urllib.parse import unquote

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils import timezone

from subscriptions.admin import actions
from subscriptions.admin.base import ReadOnlyAdmin
from subscriptions.admin.scale import ScaledAdminMixin
from subscriptions.models import Contact, Keyword, KeywordKind, ShortCode
from subscriptions.reporting import certificate, evidence
from subscriptions.reporting.access import EXPORT_EVIDENCE
from subscriptions.reporting.certificate_render import FORMATS, certificate_response, exported_by
from subscriptions.reporting.csv_export import streaming_csv_response

TIMELINE_LIMIT = 500
TIME_ZONE_COOKIE = "portal_tz"  # set by static/subscriptions/time_zone.js from the browser


def staff_time_zone(request):
    """?tz=, else the browser's zone (cookie), else PORTAL_STAFF_TIME_ZONE."""
    # time_zone.js writes the zone URL-encoded ("America%2FNew_York"): decode it.
    browser = unquote(request.COOKIES.get(TIME_ZONE_COOKIE, ""))
    return certificate.staff_time_zone(request.GET.get("tz") or browser)


def _rows(entries, tz):
    return [
        {
            "at": e.at.astimezone(tz) if e.at else None,
            "entry": e,
            "details": certificate.shown_facts(e, tz),
        }
        for e in entries
    ]


@admin.register(Contact)
class ContactAdmin(actions.ActionPermissions, ScaledAdminMixin, ReadOnlyAdmin):
    list_display = ["phone", "national_number", "locale", "created_at"]
    search_fields = ["phone"]
    phone_lookup = "phone"
    fields = ["phone", "national_number", "locale", "created_at"]
    readonly_fields = ["national_number"]
    actions = [actions.preferences_link]
    change_form_template = "admin/subscriptions/contact/change_form.html"

    class Media:
        css = {"all": ["subscriptions/contact.css"]}
        js = ["subscriptions/time_zone.js"]

    @admin.display(description="National format")
    def national_number(self, contact):
        return certificate.national(contact.phone)

    def get_urls(self):
        return [
            path(
                "<int:pk>/evidence.csv",
                self.admin_site.admin_view(self.evidence_csv),
                name="subscriptions_contact_evidence",
            ),
            path(
                "<int:pk>/certificate/",
                self.admin_site.admin_view(self.certificate),
                name="subscriptions_contact_certificate",
            ),
            *super().get_urls(),
        ]

    def evidence_csv(self, request, pk):
        """The raw timeline, one column per field, for spreadsheets and tooling."""
        if not request.user.has_perm(EXPORT_EVIDENCE):
            raise PermissionDenied
        contact = get_object_or_404(Contact, pk=pk)
        return streaming_csv_response(
            evidence.timeline_rows(contact), f"consent-evidence-{contact.phone.lstrip('+')}.csv"
        )

    def certificate(self, request, pk):
        if not request.user.has_perm(EXPORT_EVIDENCE):
            raise PermissionDenied
        contact = get_object_or_404(Contact, pk=pk)
        fmt = request.GET.get("format", "pdf")
        if fmt not in FORMATS:
            fmt = "pdf"
        cert = certificate.build(
            contact,
            exported_by=exported_by(request.user),
            now=timezone.now(),
            time_zone=staff_time_zone(request),
        )
        return certificate_response(cert, fmt)

    def _scope(self, request):
        """The code and program filters of the query string, checked against the catalog."""
        code = request.GET.get("code", "")
        if code and not ShortCode.objects.filter(code=code).exists():
            code = ""
        keyword_id = None
        raw = request.GET.get("program", "")
        if raw.isdigit():
            programs = Keyword.objects.filter(kind=KeywordKind.PROGRAM).select_related("short_code")
            program = programs.filter(pk=int(raw)).first()
            if program is not None:
                keyword_id, code = program.pk, program.short_code.code
        return certificate.Scope(
            newest_first=True, limit=TIMELINE_LIMIT + 1, code=code, keyword_id=keyword_id
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        contact = self.get_object(request, object_id)
        if contact is None:
            return super().change_view(request, object_id, form_url, extra_context)
        tz = staff_time_zone(request)
        scope = self._scope(request)
        entries = certificate.timeline(contact, scope)
        states, stops, revocations = certificate.current_state(contact)
        codes = sorted({e.short_code for e in states} | {e.short_code for e in stops})
        programs = (
            Keyword.objects.filter(kind=KeywordKind.PROGRAM, subscriptions__contact=contact)
            .distinct()
            .select_related("short_code")
            .order_by("short_code__code", "word")
        )
        may_export = request.user.has_perm(EXPORT_EVIDENCE)
        certificate_url = reverse("admin:subscriptions_contact_certificate", args=[contact.pk])
        context = {
            "staff_zone": str(tz),
            "states": _rows(states, tz),
            "stops": _rows(stops, tz),
            "revocations": _rows(revocations, tz),
            "timeline": _rows(entries[:TIMELINE_LIMIT], tz),
            "truncated": len(entries) > TIMELINE_LIMIT,
            "timeline_limit": TIMELINE_LIMIT,
            "filter_codes": codes,
            "filter_programs": [
                (k.pk, f"{k.title or k.word} ({k.word} on {k.short_code.code})") for k in programs
            ],
            "chosen_code": scope.code,
            "chosen_program": scope.keyword_id,
            "certificate_links": [
                (label, f"{certificate_url}?format={fmt}")
                for fmt, label in (("pdf", "PDF"), ("html", "HTML"), ("csv", "CSV"))
            ]
            if may_export
            else [],
            "evidence_csv": reverse("admin:subscriptions_contact_evidence", args=[contact.pk])
            if may_export
            else "",
            **(extra_context or {}),
        }
        return super().change_view(request, object_id, form_url, context)
