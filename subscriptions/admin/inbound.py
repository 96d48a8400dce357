from django.contrib import admin

from subscriptions.admin.base import ReadOnlyAdmin
from subscriptions.models import UnmatchedPostback


@admin.register(UnmatchedPostback)
class UnmatchedPostbackAdmin(ReadOnlyAdmin):
    """Postbacks that changed nothing (unknown short code, rejected XML), verbatim."""

    list_display = ["received_at", "provider", "problem", "short_code", "reason", "remote_addr"]
    list_filter = ["problem", "provider"]
    search_fields = ["short_code", "raw_payload"]
    list_select_related = ["provider"]
    readonly_fields = [
        "provider",
        "problem",
        "reason",
        "short_code",
        "raw_payload",
        "remote_addr",
        "received_at",
    ]
