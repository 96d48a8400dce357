"""A demo world on the console provider: two brands, programs, varied consent states, and a
crowd whose opt-ins, opt-outs and STOPs are spread over the last 30 days (so the dashboard's
charts have a shape). The crowd's changes run under a demo clock: the services record them
as on the day they are dated, exactly as if they had happened then."""

import random
from contextlib import contextmanager
from datetime import timedelta
from unittest import mock

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from subscriptions.consent import services
from subscriptions.consent.services import Context
from subscriptions.inbound import mo
from subscriptions.models import (
    Keyword,
    KeywordKind,
    ProviderAccount,
    ProviderKind,
    ShortCode,
    Subscription,
)

PROGRAMS = {
    "12345": [
        ("DEALS", "Weekly deals", "One text a week with our best offers.", False),
        ("ALERTS", "Order alerts", "Shipping and delivery updates for your orders.", False),
        ("VIP", "VIP club", "Early access to sales. Up to 4 msgs/month.", True),
    ],
    "67890": [
        ("NEWS", "Bistro news", "Menus and events, twice a month.", False),
        ("TABLE", "Table ready", "A text when your table is ready.", False),
    ],
}


CROWD = 80


@contextmanager
def demo_clock(at):
    """The portal's clock reads `at` inside the block (demo data only, never a request)."""
    with mock.patch("django.utils.timezone.now", return_value=at):
        yield


class Command(BaseCommand):
    help = "Load demo data: a console provider, two short codes, programs and contacts."

    @transaction.atomic
    def handle(self, *args, **options):
        account, _ = ProviderAccount.objects.get_or_create(
            name="Demo console", defaults={"kind": ProviderKind.CONSOLE}
        )
        codes = {
            "12345": ShortCode.objects.get_or_create(
                code="12345", defaults={"name": "Acme Deals", "brand": "Acme", "provider": account}
            )[0],
            "67890": ShortCode.objects.get_or_create(
                code="67890",
                defaults={"name": "Bistro Texts", "brand": "Bistro Verde", "provider": account},
            )[0],
        }
        for code, programs in PROGRAMS.items():
            for word, title, description, double in programs:
                Keyword.objects.get_or_create(
                    short_code=codes[code],
                    word=word,
                    defaults={
                        "kind": KeywordKind.PROGRAM,
                        "title": title,
                        "description": description,
                        "double_opt_in": double,
                    },
                )
        acme = codes["12345"]
        Keyword.objects.get_or_create(
            short_code=acme, word="STOPACME", defaults={"kind": KeywordKind.STOP}
        )
        Keyword.objects.get_or_create(
            short_code=acme, word="Y", defaults={"kind": KeywordKind.CONFIRM}
        )
        Keyword.objects.get_or_create(
            short_code=acme, word="ACMEHELP", defaults={"kind": KeywordKind.HELP}
        )
        if not Subscription.objects.exists():
            self._people(codes)
        self._admin_user()

    def _people(self, codes):
        acme, bistro = codes["12345"], codes["67890"]

        def kw(code, word):
            return Keyword.objects.get(short_code=code, word=word)

        now = timezone.now()
        # The named people are dated like the crowd, so no day of the charts is a spike (a
        # Context reads the clock when made: made inside the block, it is dated there too).
        with demo_clock(now - timedelta(days=29)):
            seed = Context(source="system", actor_label="seed_demo", consent_text="Demo data")
            for phone in ["+15555550101", "+15555550102", "+15555550103"]:
                services.opt_in(phone, kw(acme, "DEALS"), seed)
                services.opt_in(phone, kw(acme, "ALERTS"), seed)
            services.opt_in("+15555550101", kw(bistro, "NEWS"), seed)
        with demo_clock(now - timedelta(days=12)):
            services.opt_out(
                "+15555550102", kw(acme, "DEALS"), Context(source="system", actor_label="seed_demo")
            )
        with demo_clock(now - timedelta(days=5)):
            services.stop_all("+15555550103", acme, Context(source="mo", actor_label="seed_demo"))
        services.opt_in(  # waiting for its "Y": the dashboard's pending confirmations
            "+15555550104", kw(acme, "VIP"), Context(source="system", actor_label="seed_demo")
        )
        # A reply that may be a revocation, waiting for staff (the revocation queue, the
        # dashboard's "Revocations due").
        mo.handle_mo(
            mo.MoText(phone="+15555550102", short_code=acme, text="not interested anymore")
        )
        self._crowd(codes)
        self.stdout.write(
            self.style.SUCCESS(
                "Demo loaded: codes 12345 (Acme) and 67890 (Bistro Verde); try +15555550101."
            )
        )

    def _crowd(self, codes, people=CROWD, days=30):
        """`people` numbers joining over `days` days; some leave, some text STOP later."""
        rng = random.Random(18)  # the same demo every time
        now = timezone.now()
        programs = list(
            Keyword.objects.filter(kind=KeywordKind.PROGRAM, double_opt_in=False).select_related(
                "short_code"
            )
        )
        for n in range(people):
            phone = f"+1555555{2000 + n:04d}"
            joined = now - timedelta(days=rng.uniform(0, days), hours=rng.uniform(0, 6))
            keyword = rng.choice(programs)
            source = rng.choice(["web", "mo", "api"])
            with demo_clock(joined):
                services.opt_in(phone, keyword, Context(source=source, actor_label="seed_demo"))
            left = joined + timedelta(days=rng.uniform(0.5, 10))
            if left < now and rng.random() < 0.25:
                with demo_clock(left):
                    if rng.random() < 0.4:
                        services.stop_all(
                            phone, keyword.short_code, Context(source="mo", actor_label="seed_demo")
                        )
                    else:
                        services.opt_out(
                            phone, keyword, Context(source="web", actor_label="seed_demo")
                        )

    def _admin_user(self):
        # admin / admin is for a laptop demo only: never on a portal that is not in DEBUG.
        if not settings.DEBUG:
            self.stdout.write(
                self.style.WARNING(
                    "DEBUG is off: no admin / admin login created. "
                    "Create staff with manage.py createsuperuser."
                )
            )
            return
        User = get_user_model()
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@example.com", "admin")
            base = settings.PORTAL_BASE_URL.rstrip("/")
            self.stdout.write(f"Admin login: {base}/admin/  admin / admin")
