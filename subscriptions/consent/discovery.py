"""Programs learnt from providers: a SkyCore postback may name a campaign the portal has
never seen; it becomes a discovered keyword that staff review."""

import re
import unicodedata

from django.db import transaction

from subscriptions.consent import rules
from subscriptions.consent.selectors import program_by_ref
from subscriptions.models import (
    Keyword,
    KeywordKind,
    ProviderAccount,
    ShortCode,
)

_WORD_BASE_LENGTH = 30  # leaves room for a numeric suffix within Keyword.word's 40


def _discovered_word(short_code, title, provider_ref):
    """An unused keyword word derived from the campaign title: ASCII letters and digits only
    (so it can be texted and never contains a reserved word's spelling by accident)."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    base = re.sub(r"[^A-Z0-9]", "", ascii_title.upper())[:_WORD_BASE_LENGTH]
    base = base or re.sub(r"[^A-Z0-9]", "", f"CAMPAIGN{provider_ref.upper()}")[:_WORD_BASE_LENGTH]
    taken = (
        set(
            Keyword.objects.filter(short_code=short_code, word__startswith=base).values_list(
                "word", flat=True
            )
        )
        | rules.RESERVED_WORDS
    )
    candidates = (base if n == 1 else f"{base}{n}" for n in range(1, len(taken) + 2))
    return next(word for word in candidates if word not in taken)


@transaction.atomic
def discover_program(
    short_code: ShortCode, account: ProviderAccount, provider_ref: str, title: str = ""
) -> Keyword:
    """The program `account` calls `provider_ref` on a code, created the first time a
    provider mentions it (SkyCore postback with an unknown CAMPAIGNREF). Marked discovered
    and kept off the preferences page until staff review it."""
    # Lock the code so two postbacks naming the same new campaign create one keyword.
    ShortCode.objects.select_for_update().get(pk=short_code.pk)
    existing = program_by_ref(short_code, account, provider_ref)
    if existing is not None:
        return existing
    keyword = Keyword.objects.create(
        short_code=short_code,
        kind=KeywordKind.PROGRAM,
        provider=account,
        word=_discovered_word(short_code, title, provider_ref),
        title=title[:120],
        provider_ref=provider_ref,
        discovered=True,
        is_public=False,
    )
    return Keyword.objects.select_related("short_code__provider", "provider").get(pk=keyword.pk)
