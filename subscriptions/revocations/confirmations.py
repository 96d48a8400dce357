"""Exactly one confirmation text per revocation, never marketing (47 CFR 64.1200(a)(12)).

Who sends it depends on the provider accounts the revocation reaches:
- SFMC and WhatCounts text their own STOP confirmation, both when the handset's stop word
  (or an account's custom stop keyword) reached them (they apply it before forwarding it)
  and when the portal's opt-out reaches them as a code-wide stop (SFMC processes a queueMO
  STOP as a handset STOP; WhatCounts' smsstopsubscribersend sends its stop message). The
  portal then sends none. Every account serving a code is asked, not only the code's own:
  a WhatCounts program on an SFMC code gets the STOP too, and WhatCounts texts.
- SkyCore (the portal unsubscribes with NOTIFY=no) and the console provider send none: the
  portal texts the confirmation (delivery.messages.queue_text, after commit): the short
  code's stop text for a code-wide revocation, its opt_out_text naming the programs for a
  revocation of some programs only.
- An opt-out the portal will not send to a provider (it is known to hold every program of
  the account out already), or one that stays local there (SFMC and WhatCounts opt out
  code-wide only, and another program of the account is still in), gets no provider text,
  so the portal sends its own.
- None when the revocation changed nothing (a STOP already active on every code of its
  scope, the programs already out: the same person again; its confirmation went out the
  first time), and none when the text could not arrive: WhatCounts runs the code and holds
  the number stopped (it delivers nothing more to a number it stopped, and it texted its
  stop message when it stopped it).
"""

from dataclasses import dataclass

from subscriptions.common import memo
from subscriptions.delivery.state import account_filter, known_state
from subscriptions.models import (
    Confirmation,
    Keyword,
    KeywordKind,
    ProviderAccount,
    ProviderKind,
    Status,
    Subscription,
)

SELF_CONFIRMING = frozenset({ProviderKind.SFMC, ProviderKind.WHATCOUNTS})


@dataclass(frozen=True)
class Reached:
    """One (short code, provider account) a revocation changed, and how."""

    short_code: object
    account: ProviderAccount
    applied_by_provider: bool = False  # the account applied the person's text itself


def account_programs(short_code, account) -> list[int]:
    """Ids of the account's program keywords on the code (its own, or the code's unowned
    ones when the code is the account's)."""
    return list(
        Keyword.objects.filter(
            account_filter(account.pk), short_code=short_code, kind=KeywordKind.PROGRAM
        ).values_list("pk", flat=True)
    )


def accounts_serving(short_code) -> list[ProviderAccount]:
    """The accounts a code-wide change is delivered to (as delivery.plan does): the code's
    own first, then every account owning a keyword on it. Configuration: kept per process
    (common.memo, dropped on every change of a code, keyword or account)."""

    def load():
        others = ProviderAccount.objects.filter(keywords__short_code=short_code).exclude(
            pk=short_code.provider_id
        )
        return (short_code.provider, *others.distinct().order_by("pk"))

    return list(memo.lookup(memo.CATALOG, ("accounts_serving", short_code.pk), load))


def _still_in(contact, short_code, programs) -> bool:
    return Subscription.objects.filter(
        contact=contact, short_code=short_code, keyword_id__in=programs, status=Status.OPTED_IN
    ).exists()


def texts_itself(contact, reached: Reached) -> bool:
    """Does `reached.account` text the person a STOP confirmation for this change?"""
    account, code = reached.account, reached.short_code
    if account.kind not in SELF_CONFIRMING:
        return False
    if reached.applied_by_provider:
        return True
    programs = account_programs(code, account)
    if not programs or _still_in(contact, code, programs):
        return False  # nothing to tell it, or the opt-out stays local (code-wide only)
    known = known_state(contact.pk, code.pk, account.pk)
    # In (True), unknown (None) or never told (absent): the portal's opt-out is sent.
    return any(known.get(pk) is not False for pk in programs)


def cannot_arrive(contact, short_code) -> bool:
    """WhatCounts runs the code and holds the number stopped there: a text of the portal
    on that code would not be delivered."""
    account = short_code.provider
    if account.kind != ProviderKind.WHATCOUNTS:
        return False
    programs = account_programs(short_code, account)
    known = known_state(contact.pk, short_code.pk, account.pk)
    return bool(programs) and all(known.get(pk) is False for pk in programs)


def who_confirms(contact, reached: list[Reached]) -> str:
    """The Confirmation of a revocation that changed `reached` (in scope order)."""
    if not reached:
        return Confirmation.NONE
    if any(texts_itself(contact, target) for target in reached):
        return Confirmation.PROVIDER
    if cannot_arrive(contact, reached[0].short_code):
        return Confirmation.NONE
    return Confirmation.PORTAL


def code_wide(short_code, *, applied_by=None) -> list[Reached]:
    """What a STOP on `short_code` reaches: every account serving it; `applied_by` (an
    account id) applied the person's stop word itself."""
    return [
        Reached(short_code, account, applied_by_provider=account.pk == applied_by)
        for account in accounts_serving(short_code)
    ]


def confirmation_text(short_code, programs=()) -> str:
    """The short code's stop text (a code-wide revocation) or its opt_out_text naming the
    programs (some programs only): no marketing, nothing but the confirmation."""
    if programs:
        titles = ", ".join(keyword.display_title for keyword in programs)
        return short_code.render(short_code.opt_out_text, program=titles)
    return short_code.render(short_code.stop_text)
