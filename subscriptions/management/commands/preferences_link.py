"""Print a signed preferences link for a caller (`manage.py preferences_link PHONE`)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from subscriptions.common.phones import InvalidPhone, normalize
from subscriptions.preferences.links import DEFAULT_MAX_AGE, preferences_link_path


class Command(BaseCommand):
    help = (
        f"Print a signed link that opens the preferences page for PHONE without a code; "
        f"it works for {DEFAULT_MAX_AGE // 86400} days."
    )

    def add_arguments(self, parser):
        parser.add_argument("phone")
        parser.add_argument(
            "--base-url",
            default=settings.PORTAL_BASE_URL,
            help="Where the portal is reached (default: PORTAL_BASE_URL).",
        )
        parser.add_argument(
            "--issued-by",
            default="manage.py preferences_link",
            help="Who the changes made through the link are recorded as (staff member).",
        )

    def handle(self, phone, base_url, issued_by, **options):
        try:
            e164 = normalize(phone)
        except InvalidPhone as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(base_url.rstrip("/") + preferences_link_path(e164, issued_by))
