"""Staff actions on consent. Each asks for a reason on an intermediate page first, then goes
through the services with source "admin" (consent changes) or logs the reason with the
admin's own log (retries, preferences links). A staff opt-out or stop is recorded as a
revocation (channel `staff`, the reason as its words), confirmed once and measured: staff
act on a person's request, and a compliance record must count every opt-out."""

from functools import wraps

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.response import TemplateResponse

from subscriptions.common.client import client_address, user_agent
from subscriptions.consent import services
from subscriptions.delivery import worker
from subscriptions.models import ProviderSync, RevocationChannel, Source
from subscriptions.preferences import links
from subscriptions.revocations import programs as program_revocations
from subscriptions.revocations import services as revocations

# Admin actions call the services once per row; a bigger change is an import's job.
MAX_ROWS = 1000


class ActionPermissions:
    """The permissions the actions below name (admin.action(permissions=[...]))."""

    def has_consent_permission(self, request):
        return request.user.has_perm("subscriptions.change_consent")

    def has_retry_permission(self, request):
        return request.user.has_perm("subscriptions.change_providersync")


class ReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=255,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text="Recorded in the history with your name. Required.",
    )

    def clean_reason(self):
        reason = self.cleaned_data["reason"].strip()
        if not reason:
            raise forms.ValidationError("A reason is required.")
        return reason


def with_reason(description, permission):
    """Turn `apply(modeladmin, request, queryset, reason) -> message` into an admin action
    that first shows a page asking for the reason."""

    def decorate(apply):
        @admin.action(description=description, permissions=[permission])
        @wraps(apply)
        def action(modeladmin, request, queryset):
            if queryset[: MAX_ROWS + 1].count() > MAX_ROWS:
                modeladmin.message_user(
                    request,
                    f"More than {MAX_ROWS} rows selected; staff actions take at most "
                    f"{MAX_ROWS}. Narrow the list, or use an import for bulk changes.",
                    messages.ERROR,
                )
                return None
            form = ReasonForm(request.POST if "reason" in request.POST else None)
            if form.is_valid():
                result = apply(modeladmin, request, queryset, form.cleaned_data["reason"])
                modeladmin.message_user(request, result, messages.SUCCESS)
                return None
            return TemplateResponse(
                request,
                "admin/subscriptions/action_reason.html",
                {
                    **modeladmin.admin_site.each_context(request),
                    "title": description,
                    "opts": modeladmin.model._meta,
                    "form": form,
                    "queryset": queryset[:50],
                    "count": queryset.count(),
                    "action": apply.__name__,
                    "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                    "select_across": request.POST.get("select_across", "0"),
                    "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                },
            )

        return action

    return decorate


def admin_context(request, reason):
    return services.Context(
        source=Source.ADMIN,
        actor=request.user,
        reason=reason,
        ip_address=client_address(request),
        user_agent=user_agent(request),
        detail={"reason": reason},
    )


def _summary(results):
    changed = sum(len(r.changed) for r in results)
    return f"{changed} subscription(s) changed, {len(results)} request(s) recorded in history."


@with_reason("Opt out of the program", "consent")
def opt_out(modeladmin, request, queryset, reason):
    subs = list(queryset.select_related("contact", "keyword__short_code").order_by("pk"))
    by_phone = {}
    for sub in subs:
        by_phone.setdefault(sub.contact.phone, []).append(sub.keyword)
    results = [
        # One revocation per person, of the programs selected for them.
        program_revocations.revoke_programs(
            phone,
            keywords,
            channel=RevocationChannel.STAFF,
            text=reason,
            ctx=admin_context(request, reason),
        )
        for phone, keywords in sorted(by_phone.items())
    ]
    for sub in subs:
        # The admin's own log ("Recent actions") says who did what; the history has the rest.
        modeladmin.log_change(request, sub, f"Opted out of {sub.keyword.word}: {reason}")
    return _summary(results)


@with_reason("Stop all programs on the short code (like STOP)", "consent")
def stop_all(modeladmin, request, queryset, reason):
    subs = list(queryset.select_related("contact", "short_code"))
    pairs = {(sub.contact.phone, sub.short_code) for sub in subs}
    results = [
        revocations.record_revocation(
            phone,
            channel=RevocationChannel.STAFF,
            text=reason,
            ctx=admin_context(request, reason),
            short_code=code,
        )
        for phone, code in sorted(pairs, key=lambda p: (p[0], p[1].code))
    ]
    for sub in subs:
        modeladmin.log_change(request, sub, f"Stopped all on {sub.short_code.code}: {reason}")
    return _summary(results)


def retry_syncs(syncs, request, modeladmin, selected, reason):
    """Failed or waiting provider syncs back to pending and due now; the delivery sweeper
    takes them from there (no provider call inside this request)."""
    retried = worker.retry(list(syncs.values_list("pk", flat=True)))
    for obj in selected:
        modeladmin.log_change(request, obj, f"Provider sync retried: {reason}")
    return f"{retried} provider sync(s) due again now."


@with_reason("Retry provider sync", "retry")
def retry_provider_sync(modeladmin, request, queryset, reason):
    """On subscriptions: the syncs of the selected numbers on their short codes."""
    targets = set(queryset.values_list("contact_id", "short_code_id"))
    syncs = ProviderSync.objects.none()
    for contact_id, code_id in targets:
        syncs |= ProviderSync.objects.filter(contact_id=contact_id, short_code_id=code_id)
    return retry_syncs(
        ProviderSync.objects.filter(pk__in=syncs.values("pk")),
        request,
        modeladmin,
        queryset,
        reason,
    )


@with_reason("Retry provider sync", "retry")
def retry_selected_syncs(modeladmin, request, queryset, reason):
    """On the provider sync list itself."""
    return retry_syncs(queryset, request, modeladmin, queryset, reason)


@with_reason("Copy a preferences link", "consent")
def preferences_link(modeladmin, request, queryset, reason):
    """A signed link for the caller on the phone; the reason goes into the admin log."""
    lines = []
    for contact in queryset:
        url = request.build_absolute_uri(
            links.preferences_link_path(contact.phone, request.user.get_username())
        )
        modeladmin.log_change(request, contact, f"Preferences link issued: {reason}")
        lines.append(f"{contact.phone}: {url}")
    return "Preferences link(s), valid for 7 days: " + " | ".join(lines)
