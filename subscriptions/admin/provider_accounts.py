"""Provider accounts: one form per kind, built from the kind's declaration
(providers/<kind>/settings.py via providers/kinds.py): its settings as labelled fields with
their help text, only its own secrets (write-only), its postback URL with a copy button, and
"Test connection", a harmless authenticated call logged as a ProviderCall."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied
from django.db import transaction
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html_join

from subscriptions.admin.base import PortalAdmin
from subscriptions.models import ProviderAccount, ProviderKind
from subscriptions.providers import kinds, postback_tokens
from subscriptions.providers.base import ProviderError, redacted
from subscriptions.providers.registry import ADAPTERS, adapter_for

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
SETTING_PREFIX, SECRET_PREFIX = "setting_", "secret_"


class ProviderAccountForm(forms.ModelForm):
    """The fields every kind has; `form_for_kind` adds that kind's settings and secrets."""

    kind_settings = kinds.for_kind(ProviderKind.CONSOLE)

    class Meta:
        model = ProviderAccount
        fields = ["name", "kind", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored_settings = (self.instance.settings or {}) if self.instance.pk else {}
        stored_secrets = self.instance.secrets if self.instance.pk else {}
        for setting in self.kind_settings.settings:
            self.fields[SETTING_PREFIX + setting.name].initial = stored_settings.get(setting.name)
        for secret in self.kind_settings.secrets:
            field = self.fields[SECRET_PREFIX + secret.name]
            state = (
                "Stored, encrypted; leave blank to keep it."
                if secret.name in stored_secrets
                else "Not set."
            )
            field.help_text = f"{secret.help_text} {state}".strip()
        if "kind" in self.fields:
            self.fields["kind"].widget = forms.HiddenInput()

    def _given_secrets(self):
        return {
            secret.name: value
            for secret in self.kind_settings.secrets
            if (value := self.cleaned_data.get(SECRET_PREFIX + secret.name))
        }

    def clean(self):
        cleaned = super().clean()
        values = {}
        active = cleaned.get("is_active", True)
        for setting in self.kind_settings.settings:
            value = (cleaned.get(SETTING_PREFIX + setting.name) or "").strip()
            problem = setting.check(value, active=active)
            if problem:
                self.add_error(SETTING_PREFIX + setting.name, problem)
            elif value:
                values[setting.name] = value
        # The model's clean checks the same declaration again (admin, API and imports agree).
        self.instance.settings = values
        return cleaned

    def _update_errors(self, errors):
        # The model reports every setting under one "settings" key; this form has a field
        # per setting and has already put each problem next to its field.
        error_dict = getattr(errors, "error_dict", {})
        settings_errors = error_dict.pop("settings", [])
        if settings_errors and not any(name.startswith(SETTING_PREFIX) for name in self.errors):
            error_dict.setdefault(NON_FIELD_ERRORS, []).extend(settings_errors)
        super()._update_errors(errors)

    def save(self, commit=True):
        account = super().save(commit=False)
        account.set_secrets(self._given_secrets())
        if commit:
            account.save()
        return account


def form_for_kind(kind: str) -> type[ProviderAccountForm]:
    declaration = kinds.for_kind(kind)
    fields = {"kind_settings": declaration}
    for setting in declaration.settings:
        widget = forms.URLInput if setting.kind == "url" else forms.TextInput
        # Addresses get the room to be read whole (provider_account.css).
        css = "vTextField portal-wide" if setting.kind == "url" else "vTextField"
        fields[SETTING_PREFIX + setting.name] = forms.CharField(
            label=setting.label,
            # Required only while the account is active: the form's clean checks that.
            help_text=setting.help_text + (" Required while active." if setting.required else ""),
            required=False,
            widget=widget(attrs={"autocomplete": "off", "class": css}),
        )
    for secret in declaration.secrets:
        fields[SECRET_PREFIX + secret.name] = forms.CharField(
            label=secret.label,
            required=False,
            strip=True,
            widget=forms.PasswordInput(
                render_value=False, attrs={"autocomplete": "new-password", "class": "vTextField"}
            ),
        )
    return type(f"{kind.title()}ProviderAccountForm", (ProviderAccountForm,), fields)


def _kind_of(request, obj):
    if obj is not None:
        return obj.kind
    kind = request.GET.get("kind") or request.POST.get("kind")
    return kind if kind in ProviderKind.values else None


@admin.register(ProviderAccount)
class ProviderAccountAdmin(PortalAdmin):
    list_display = ["name", "kind", "is_active", "created_at"]
    list_filter = ["kind", "is_active"]
    actions = ["rotate_postback_tokens"]
    change_form_template = "admin/subscriptions/provideraccount/change_form.html"

    class Media:
        css = {"all": ["subscriptions/provider_account.css"]}
        js = ["subscriptions/copy.js"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        kwargs["form"] = form_for_kind(_kind_of(request, obj) or ProviderKind.CONSOLE)
        return super().get_form(request, obj, change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return ["kind_label", "capabilities"] if obj else ["capabilities"]

    def get_fieldsets(self, request, obj=None):
        declaration = kinds.for_kind(_kind_of(request, obj) or ProviderKind.CONSOLE)
        account = ["name", "kind_label", "is_active"] if obj else ["name", "kind", "is_active"]
        fieldsets = [(None, {"fields": account})]
        if declaration.settings:
            names = [SETTING_PREFIX + s.name for s in declaration.settings]
            fieldsets.append(("Settings", {"fields": names}))
        if declaration.secrets:
            names = [SECRET_PREFIX + s.name for s in declaration.secrets]
            fieldsets.append(("Secrets (write-only)", {"fields": names}))
        fieldsets.append(("What this provider can be told", {"fields": ["capabilities"]}))
        return fieldsets

    @admin.display(description="Kind")
    def kind_label(self, account):
        return account.get_kind_display()

    @admin.display(description="Capabilities")
    def capabilities(self, account):
        """Why a sync of this account may stay local: what its API cannot do, the portal
        enforces through its sendability check (docs/providers.md)."""
        adapter = ADAPTERS.get(account.kind) if account else None
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

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        if _kind_of(request, None) is None:
            return TemplateResponse(
                request,
                "admin/subscriptions/provideraccount/choose_kind.html",
                {
                    **self.admin_site.each_context(request),
                    "opts": self.model._meta,
                    "title": "Add provider account: choose its kind",
                    "kinds": ProviderKind.choices,
                },
            )
        return super().add_view(request, form_url, extra_context)

    def get_changeform_initial_data(self, request):
        return {**super().get_changeform_initial_data(request), "kind": _kind_of(request, None)}

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # The postback URL holds the token that authenticates postbacks: only for staff who
        # may change provider accounts.
        context["kind_label"] = ProviderKind(_kind_of(request, obj) or "console").label
        if obj is not None and postback_tokens.may_see(request.user):
            context["postback_url"] = postback_tokens.postback_url(obj, request)
            context["test_connection_url"] = reverse(
                "admin:subscriptions_provideraccount_test", args=[obj.pk]
            )
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.action(
        description="Rotate the postback token (the old URL stops working)", permissions=["change"]
    )
    def rotate_postback_tokens(self, request, queryset):
        for account in queryset:
            postback_tokens.rotate(account, request.user)
        self.message_user(
            request,
            f"{queryset.count()} postback token(s) rotated: enter the new URL at the provider.",
            messages.WARNING,
        )

    def get_urls(self):
        return [
            path(
                "<int:pk>/test-connection/",
                self.admin_site.admin_view(self.test_connection),
                name="subscriptions_provideraccount_test",
            ),
            *super().get_urls(),
        ]

    def test_connection(self, request, pk):
        """POST only, outside any transaction: the call and its log row commit on their
        own, and no lock is held while the provider answers."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        account = get_object_or_404(ProviderAccount, pk=pk)
        if not self.has_change_permission(request, account):
            raise PermissionDenied
        if transaction.get_connection().in_atomic_block:
            raise RuntimeError("test_connection must not run inside a transaction")
        try:
            said = adapter_for(account).test_connection()
        except ProviderError as error:
            self.message_user(
                request, f"Connection test failed: {redacted(error, account)}", messages.ERROR
            )
            self.log_change(request, account, "Connection test failed")
        else:
            self.message_user(request, f"Connection test passed: {said}", messages.SUCCESS)
            self.log_change(request, account, "Connection test passed")
        return HttpResponseRedirect(
            reverse("admin:subscriptions_provideraccount_change", args=[account.pk])
        )
