from django.contrib import admin

from subscriptions.admin import actions
from subscriptions.admin.base import ReadOnlyAdmin, ReadOnlyInline, compact_time
from subscriptions.delivery.provider_import import import_rows, waiting_rows
from subscriptions.models import Keyword, OutboundMessage, ProviderCall, ProviderSync
from subscriptions.reporting.csv_export import streaming_csv_response


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
    # Fits 1280 px with the sidebar and the filters open: compact times, names only; the
    # error and the next attempt are on the row's page (filter by status to find them).
    list_display = ["created", "contact", "code", "account", "status", "attempts"]
    created = compact_time("created_at", "Created")

    @admin.display(description="Code", ordering="short_code__code")
    def code(self, sync):
        return sync.short_code.code

    @admin.display(description="Provider", ordering="provider__name")
    def account(self, sync):
        return sync.provider.name

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
