"""What a revocation applies to: the short codes of its scope (PORTAL_REVOKE_ALL_SCOPE)."""

from django.conf import settings
from django.db.models import Q

from subscriptions.consent.context import ServiceError
from subscriptions.models import ShortCode, ShortCodeStop, Subscription, SubscriptionEvent

SCOPE_CODE = "code"
SCOPE_BRAND = "brand"
SCOPES = (SCOPE_CODE, SCOPE_BRAND)


def revoke_all_scope() -> str:
    scope = getattr(settings, "PORTAL_REVOKE_ALL_SCOPE", SCOPE_CODE)
    if scope not in SCOPES:
        raise ServiceError(f"PORTAL_REVOKE_ALL_SCOPE must be one of {SCOPES}, not {scope!r}.")
    return scope


def scope_codes(contact, *, short_code=None, brand=None) -> list[ShortCode]:
    """The codes a revocation applies to: the code named, the brand's codes, or (neither)
    every code the number is known on; with PORTAL_REVOKE_ALL_SCOPE=brand each code brings
    every code of its brand (the FCC's "revoke all" rule)."""
    codes = ShortCode.objects.select_related("provider")
    if short_code is not None and revoke_all_scope() == SCOPE_CODE:
        return [short_code]  # the caller's row (with its provider): nothing to ask
    if short_code is not None:
        chosen = codes.filter(pk=short_code.pk)
    elif brand:
        chosen = codes.filter(brand=brand)
    else:
        # Subqueries, not joins: an OR over three reverse joins multiplies their rows.
        chosen = codes.filter(
            Q(pk__in=Subscription.objects.filter(contact=contact).values("short_code_id"))
            | Q(pk__in=ShortCodeStop.objects.filter(contact=contact).values("short_code_id"))
            | Q(pk__in=SubscriptionEvent.objects.filter(contact=contact).values("short_code_id"))
        )
    chosen = list(chosen)
    if chosen and revoke_all_scope() == SCOPE_BRAND:
        chosen = list(codes.filter(brand__in={code.brand for code in chosen}))
    return sorted(chosen, key=lambda code: code.code)


def texted_first(short_code, codes) -> list[ShortCode]:
    """`codes` with `short_code` (the one the person used) first: it gets the confirmation."""
    return [short_code, *[code for code in codes if code != short_code]]
