"""What a run covers and what the portal holds there: the account's codes and programs, the
numbers it knows on them, and each (number, program) as in, out or unknown."""

from django.db.models import Q

from subscriptions.models import (
    Contact,
    Held,
    Keyword,
    KeywordKind,
    ProviderSync,
    ShortCode,
    ShortCodeStop,
    Status,
    Subscription,
)


def codes_of(account, short_code=None) -> list[ShortCode]:
    codes = ShortCode.objects.filter(Q(provider=account) | Q(keywords__provider=account))
    if short_code is not None:
        codes = codes.filter(pk=short_code.pk)
    return list(codes.distinct().order_by("code"))


def programs_of(account, codes) -> dict[int, list[Keyword]]:
    """{short code id: program keywords of the account there}."""
    programs = {}
    keywords = Keyword.objects.filter(
        short_code__in=codes, kind=KeywordKind.PROGRAM
    ).select_related("short_code")
    for kw in keywords.order_by("word"):
        if kw.account_id == account.pk:
            programs.setdefault(kw.short_code_id, []).append(kw)
    return programs


def contacts_to_check(account, codes, programs, done_ranges) -> list[tuple[int, str]]:
    """(contact id, phone) of every number the portal knows on these codes for this account
    (a subscription to one of its programs, a STOP on the code, a delivery to it), in id
    order, without those a finished batch of the run covered. One query (a UNION)."""
    keyword_ids = [kw.pk for kws in programs.values() for kw in kws]
    known = (
        Subscription.objects.filter(keyword_id__in=keyword_ids)
        .values("contact_id")
        .union(
            ShortCodeStop.objects.filter(short_code__in=codes).values("contact_id"),
            ProviderSync.objects.filter(provider=account, short_code__in=codes).values(
                "contact_id"
            ),
        )
    )
    contacts = Contact.objects.filter(pk__in=known)
    for low, high in done_ranges:
        contacts = contacts.exclude(pk__range=(low, high))
    return list(contacts.order_by("pk").values_list("pk", "phone"))


def portal_states(contact_ids, programs) -> dict[tuple[int, int], str]:
    """{(contact id, keyword id): Held} for every program of the run: in when opted in, out
    when opted out or under an active STOP on the code, unknown otherwise (no record; a
    double opt-in still waiting for the person)."""
    keyword_ids = [kw.pk for kws in programs.values() for kw in kws]
    subs = {
        (contact, keyword): status
        for contact, keyword, status in Subscription.objects.filter(
            contact_id__in=contact_ids, keyword_id__in=keyword_ids
        ).values_list("contact_id", "keyword_id", "status")
    }
    stops = set(
        ShortCodeStop.objects.filter(
            contact_id__in=contact_ids, short_code_id__in=list(programs), cleared_at__isnull=True
        ).values_list("contact_id", "short_code_id")
    )
    states = {}
    for contact in contact_ids:
        for code_id, keywords in programs.items():
            for kw in keywords:
                status = subs.get((contact, kw.pk))
                if status == Status.OPTED_IN:
                    held = Held.IN
                elif status == Status.OPTED_OUT or (status is None and (contact, code_id) in stops):
                    held = Held.OUT
                else:
                    held = Held.UNKNOWN
                states[(contact, kw.pk)] = held
    return states
