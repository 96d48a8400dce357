from django import forms
from django.contrib import admin
from django.utils.html import format_html_join

from subscriptions.admin import actions
from subscriptions.admin.base import ReadOnlyAdmin, ReadOnlyInline
from subscriptions.delivery.provider_import import import_rows, waiting_rows
from subscriptions.models import (
    Keyword,
    OutboundMessage,
    ProviderAccount,
    ProviderCall,
    ProviderSync,
)
from subscriptions.providers.registry import ADAPTERS
from subscriptions.reporting.csv_export import streaming_csv_response

# Secrets each kind uses (docs/api.md "Provider account settings"). Write-only: the form
# never renders a stored value, and a blank field keeps what is stored.
SECRET_FIELDS = {
    "client_id": "SFMC client id",
    "client_secret": "SFMC client secret",
    "password": "WhatCounts password",
    "api_key": "SkyCore API key",
}


# What each capability means, and what the portal does where the provider lacks it.
CAPABILITIES = {
    "keyword_opt_in": (
        "Opt a number in to one program",
        "no: the number is added to the whole short code",
    ),
    "keyword_opt_out": (
        "Opt a number out of one program",
        "no: the opt-out stays local and the portal's sendability check blocks the program",
    ),
    "code_opt_out": ("Opt a number out of the whole short code", "no: sent program by program"),
    "send_text": (
        "Send the portal's texts (replies, codes)",
        "no: texts on its codes fail with a permanent error",
    ),
    "postbacks": ("Report consent changes back to the portal (postbacks)", "no"),
}


def _secret_field(label):
    return forms.CharField(
        label=label,
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )


class ProviderAccountForm(forms.ModelForm):
    secret_client_id = _secret_field(SECRET_FIELDS["client_id"])
    secret_client_secret = _secret_field(SECRET_FIELDS["client_secret"])
    secret_password = _secret_field(SECRET_FIELDS["password"])
    secret_api_key = _secret_field(SECRET_FIELDS["api_key"])

    class Meta:
        model = ProviderAccount
        fields = ["name", "kind", "settings", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = self.instance.secrets if self.instance.pk else {}
        for name in SECRET_FIELDS:
            self.fields[f"secret_{name}"].help_text = (
                "Stored, encrypted; leave blank to keep it." if name in stored else "Not set."
            )

    def save(self, commit=True):
        account = super().save(commit=False)
        account.set_secrets(
            {name: self.cleaned_data.get(f"secret_{name}") for name in SECRET_FIELDS}
        )
        if commit:
            account.save()
        return account


@admin.register(ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin):
    form = ProviderAccountForm
    list_display = ["name", "kind", "is_active", "created_at"]
    list_filter = ["kind", "is_active"]
    fieldsets = [
        (None, {"fields": ["name", "kind", "settings", "is_active"]}),
        ("Secrets (write-only)", {"fields": [f"secret_{name}" for name in SECRET_FIELDS]}),
        ("What this provider can be told", {"fields": ["capabilities"]}),
    ]
    readonly_fields = ["capabilities"]

    @admin.display(description="Capabilities")
    def capabilities(self, account):
        """Why a sync of this account may stay local: what its API cannot do, the portal
        enforces through its sendability check (DESIGN.md, Capabilities)."""
        adapter = ADAPTERS.get(account.kind)
        if adapter is None:
            return "-"
        can = vars(adapter.capabilities)
        return format_html_join(
            "",
            "<div>{}: {}</div>",
            (
                (label, "yes" if can[name] else missing)
                for name, (label, missing) in CAPABILITIES.items()
            ),
        )


class ProviderCallInline(ReadOnlyInline):
    model = ProviderCall
    fk_name = "sync"
    fields = ["created_at", "method", "url", "status_code", "elapsed_ms", "error"]
    readonly_fields = fields


PROVIDER_STATES = {
    True: "in",
    False: "out",
    None: "unknown (the next delivery sends the portal's state either way)",
}


class ProviderImportFilter(admin.SimpleListFilter):
    title = "provider's own import"
    parameter_name = "provider_import"

    def lookups(self, request, model_admin):
        return [("waiting", "Opt-outs waiting for the provider's import")]

    def queryset(self, request, queryset):
        if self.value() == "waiting":
            return queryset.filter(pk__in=waiting_rows().values("pk"))
        return queryset


@admin.action(
    description="Download the provider's import file (Unsubscribe rows)", permissions=["retry"]
)
def provider_import_file(modeladmin, request, queryset):
    """Import opt-outs the provider's API cannot make quietly, as a file for its own import."""
    selected = queryset.filter(pk__in=waiting_rows().values("pk")).select_related(
        "contact", "short_code"
    )
    return streaming_csv_response(import_rows(selected.iterator()), "provider-import.csv")


@admin.register(ProviderSync)
class ProviderSyncAdmin(actions.ActionPermissions, ReadOnlyAdmin):
    list_display = [
        "created_at",
        "contact",
        "short_code",
        "provider",
        "operation",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
    ]
    list_filter = ["status", ProviderImportFilter, "provider", "short_code"]
    list_select_related = ["contact", "short_code", "provider"]
    search_fields = ["contact__phone"]
    show_full_result_count = False
    inlines = [ProviderCallInline]
    actions = [actions.retry_selected_syncs, provider_import_file]
    readonly_fields = ["provider_state"]

    @admin.display(description="Provider state after this row")
    def provider_state(self, sync):
        """What the provider was known to hold once this row was written (or while it is in
        flight); the highest version of a target is what the next delivery compares with."""
        if sync.state is None:
            return "—"
        words = dict(
            Keyword.objects.filter(pk__in=[int(pk) for pk in sync.state]).values_list("pk", "word")
        )
        held = ", ".join(
            f"{words.get(int(pk), f'#{pk}')}: {PROVIDER_STATES[value]}"
            for pk, value in sync.state.items()
        )
        return f"{held or 'nothing'} (version {sync.state_version})"


@admin.register(OutboundMessage)
class OutboundMessageAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "phone", "short_code", "purpose", "status", "attempts", "sent_at"]
    list_filter = ["status", "purpose"]
    search_fields = ["phone"]
    list_select_related = ["short_code"]


@admin.register(ProviderCall)
class ProviderCallAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "provider", "method", "url", "status_code", "elapsed_ms", "error"]
    list_filter = ["provider", "status_code", "method"]
    search_fields = ["url"]
    list_select_related = ["provider"]
    show_full_result_count = False
