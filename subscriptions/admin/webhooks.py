"""Webhook endpoints and their deliveries in the admin: the same operations as the API
(create with the secret shown once, change, delete, rotate, redeliver), the same rule:
Marketing and Compliance read; only staff with the change permission of webhook endpoints
write."""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from subscriptions.admin.base import ReadOnlyAdmin
from subscriptions.models import EventType, WebhookDelivery, WebhookEndpoint
from subscriptions.webhooks import service

CHANGE = "subscriptions.change_webhookendpoint"


class WebhookEndpointForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=EventType.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "events", "description", "is_active"]


def _secret_page(request, endpoint, secret, continue_url):
    return TemplateResponse(
        request,
        "admin/subscriptions/webhookendpoint/secret.html",
        {
            **admin.site.each_context(request),
            "endpoint": endpoint,
            "secret": secret,
            "continue_url": continue_url,
        },
    )


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "event_types", "is_active", "failing_since", "disabled_at", "deliveries"]
    list_filter = ["is_active"]
    readonly_fields = ["failing_since", "disabled_at", "disabled_reason", "rotation_ends_at"]
    actions = ["rotate_secret"]

    def has_add_permission(self, request):
        return request.user.has_perm(CHANGE)

    def changelist_view(self, request, extra_context=None):
        """Staff are told here too when endpoints were disabled for failing (and by mail)."""
        for endpoint in WebhookEndpoint.objects.filter(disabled_at__isnull=False, is_active=False):
            self.message_user(
                request,
                f"{endpoint.url} was disabled on {endpoint.disabled_at:%Y-%m-%d %H:%M} UTC "
                f"({endpoint.disabled_reason}); its events wait until it is enabled again.",
                messages.WARNING,
            )
        return super().changelist_view(request, extra_context)

    def has_delete_permission(self, request, obj=None):
        return request.user.has_perm(CHANGE)

    @admin.display(description="events")
    def event_types(self, endpoint):
        return ", ".join(endpoint.events or [])

    @admin.display(description="deliveries")
    def deliveries(self, endpoint):
        url = reverse("admin:subscriptions_webhookdelivery_changelist")
        return format_html('<a href="{}?endpoint__id__exact={}">deliveries</a>', url, endpoint.pk)

    def save_model(self, request, obj, form, change):
        if change:
            service.update_endpoint(obj)
        else:
            request.webhook_secret = obj.set_new_secret()
            obj.save()

    def response_add(self, request, obj, post_url_continue=None):
        continue_url = reverse("admin:subscriptions_webhookendpoint_change", args=[obj.pk])
        return _secret_page(request, obj, request.webhook_secret, continue_url)

    @admin.action(
        description="Rotate the signing secret (old one valid for the grace period)",
        permissions=["change"],
    )
    def rotate_secret(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Rotate one endpoint at a time.", messages.WARNING)
            return None
        endpoint = queryset.get()
        secret = service.rotate_secret(endpoint)
        url = reverse("admin:subscriptions_webhookendpoint_changelist")
        return _secret_page(request, endpoint, secret, url)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "endpoint",
        "event_type",
        "phone",
        "status",
        "attempts",
        "last_status_code",
        "created_at",
        "delivered_at",
    ]
    list_filter = ["status", "event__type", "endpoint"]
    search_fields = ["phone", "event__msg_id"]
    list_select_related = ["endpoint", "event"]
    readonly_fields = [
        "endpoint",
        "event_type",
        "webhook_id",
        "phone",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "created_at",
        "delivered_at",
        "payload",
    ]
    fields = readonly_fields
    actions = ["redeliver"]

    def has_redeliver_permission(self, request):
        return request.user.has_perm(CHANGE)

    @admin.display(description="webhook-id")
    def webhook_id(self, delivery):
        return delivery.event.msg_id

    @admin.display(description="payload")
    def payload(self, delivery):
        return format_html("<pre>{}</pre>", delivery.event.payload)

    @admin.action(description="Redeliver (same webhook-id)", permissions=["redeliver"])
    def redeliver(self, request, queryset):
        rows = list(queryset.order_by("id")[:1000])
        for delivery in rows:
            service.redeliver(delivery)
        self.message_user(request, f"{len(rows)} deliveries queued again.", messages.SUCCESS)
