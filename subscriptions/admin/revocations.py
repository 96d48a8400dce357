"""The revocation queue for staff (FCC 24-24): open and overdue first with their due_by,
"Record a revocation" for what people say by phone, email, letter, in person or chat, and
the decision on one under review behind its own permission (subscriptions.decide_
revocation). Every change goes through revocations.services; the rows are append-only."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from subscriptions.admin.base import ReadOnlyAdmin
from subscriptions.common.phones import InvalidPhone, normalize
from subscriptions.consent.context import Context, ServiceError
from subscriptions.models import (
    Revocation,
    RevocationChannel,
    RevocationDecisionKind,
    ShortCode,
    Source,
)
from subscriptions.models.revocations import RECORDABLE_CHANNELS
from subscriptions.revocations import selectors
from subscriptions.revocations import services as revocations

DECIDE = "subscriptions.decide_revocation"
RECORD = "subscriptions.add_revocation"


class RecordForm(forms.Form):
    phone = forms.CharField(max_length=32)
    channel = forms.ChoiceField(
        choices=[
            (v, label)
            for v, label in RevocationChannel.choices
            if v in RECORDABLE_CHANNELS and v != "sms"
        ]
        + [("sms", RevocationChannel.SMS.label)]
    )
    text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text="The person's words, verbatim (what they said or wrote).",
    )
    received_at = forms.DateTimeField(
        required=False, help_text="When they said it (empty: now). UTC, YYYY-MM-DD HH:MM."
    )
    short_code = forms.ModelChoiceField(
        queryset=ShortCode.objects.order_by("code"),
        required=False,
        help_text="Empty with no brand: every code the number is known on.",
    )
    brand = forms.CharField(max_length=100, required=False)

    def clean_phone(self):
        try:
            return normalize(self.cleaned_data["phone"])
        except InvalidPhone as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean_text(self):
        text = self.cleaned_data["text"]
        if not text.strip():
            raise forms.ValidationError("The person's words are required.")
        return text


class DecideForm(forms.Form):
    decision = forms.ChoiceField(choices=RevocationDecisionKind.choices, widget=forms.RadioSelect)
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Recorded in the history with your name. Required.",
    )


@admin.register(Revocation)
class RevocationAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "contact",
        "channel",
        "status",
        "words",
        "received_at",
        "due",
        "scope",
        "recorded_by_label",
    ]
    list_display_links = ["id", "contact"]
    list_filter = ["channel", "verdict"]
    search_fields = ["contact__phone"]
    readonly_fields = ["status", "scope", "programs", "in_step", "decision_made", "decide_link"]
    fields = [
        "contact",
        "channel",
        "text",
        "verdict",
        "matched",
        "status",
        "received_at",
        "due_by",
        "applied_at",
        "in_step",
        "scope",
        "programs",
        "confirmation",
        "recorded_by_label",
        "decision_made",
        "decide_link",
    ]
    change_list_template = "admin/subscriptions/revocation/change_list.html"

    def get_queryset(self, request):
        return selectors.queue()

    def get_ordering(self, request):
        return selectors.QUEUE_ORDER  # an annotation, so not `ordering` (admin.E033)

    def has_add_permission(self, request, obj=None):
        return request.user.has_perm(RECORD)

    def get_urls(self):
        return [
            path(
                "record/",
                self.admin_site.admin_view(self.record_view),
                name="subscriptions_revocation_record",
            ),
            path(
                "<int:pk>/decide/",
                self.admin_site.admin_view(self.decide_view),
                name="subscriptions_revocation_decide",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        return redirect("admin:subscriptions_revocation_record")

    @admin.display(description="Status")
    def status(self, revocation):
        return selectors.status_of(revocation)

    @admin.display(description="Words")
    def words(self, revocation):
        return revocation.text[:80]

    @admin.display(description="Due by", ordering="due_by")
    def due(self, revocation):
        if selectors.is_overdue(revocation):
            return format_html('<strong class="overdue">OVERDUE {}</strong>', revocation.due_by)
        return revocation.due_by

    @admin.display(description="Scope")
    def scope(self, revocation):
        return ", ".join(sorted(code.code for code in revocation.short_codes.all()))

    @admin.display(description="Programs")
    def programs(self, revocation):
        words = sorted(keyword.word for keyword in revocation.keywords.all())
        return ", ".join(words) or "every program on its codes"

    @admin.display(description="Every provider in step")
    def in_step(self, revocation):
        at = selectors.in_step_at_of(revocation)
        return at or "not yet (a provider delivery is still owed)"

    @admin.display(description="Decision")
    def decision_made(self, revocation):
        if not selectors.has_decision(revocation):
            return "-"
        d = revocation.decision
        return f"{d.get_decision_display()} by {d.decided_by_label} at {d.decided_at}: {d.reason}"

    @admin.display(description="")
    def decide_link(self, revocation):
        if not selectors.is_open(revocation):
            return ""
        url = reverse("admin:subscriptions_revocation_decide", args=[revocation.pk])
        return format_html('<a class="button" id="decide" href="{}">Decide</a>', url)

    def record_view(self, request):
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = RecordForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            ctx = Context(
                source=Source.ADMIN, actor=request.user, reason=f"recorded {data['channel']}"
            )
            try:
                applied = revocations.record_revocation(
                    data["phone"],
                    channel=data["channel"],
                    text=data["text"],
                    ctx=ctx,
                    received_at=data["received_at"],
                    short_code=data["short_code"],
                    brand=data["brand"] or None,
                )
            except ServiceError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(
                    request,
                    f"Revocation recorded and applied to {self.scope(applied.revocation)}.",
                    messages.SUCCESS,
                )
                return redirect("admin:subscriptions_revocation_change", applied.revocation.pk)
        return self._form_page(request, form, "Record a revocation", None)

    def decide_view(self, request, pk):
        if not request.user.has_perm(DECIDE):
            raise PermissionDenied
        revocation = get_object_or_404(selectors.annotated(), pk=pk)
        form = DecideForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                revocations.decide(
                    revocation.pk,
                    form.cleaned_data["decision"],
                    form.cleaned_data["reason"],
                    actor=request.user,
                )
            except ServiceError as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, "Decision recorded.", messages.SUCCESS)
                return redirect("admin:subscriptions_revocation_change", revocation.pk)
        return self._form_page(request, form, f"Decide revocation {revocation.pk}", revocation)

    def _form_page(self, request, form, title, revocation):
        return TemplateResponse(
            request,
            "admin/subscriptions/revocation/form.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": title,
                "form": form,
                "revocation": revocation,
                "now": timezone.now(),
            },
        )
