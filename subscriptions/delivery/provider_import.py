"""Opt-outs the provider must be given through its own import, because its API has no quiet
opt-out and the number was never told to it: an import's Unsubscribe rows must not text
people en masse (seed 001: an SFMC import row with Status "Unsubscribe" opts the number out
of that keyword quietly). Such deliveries stay local_only with the mark below; staff
download the file from the admin (Provider syncs, "Download the provider's import file")."""

from collections.abc import Iterable, Iterator

from subscriptions.delivery.state import decided_out, known_state
from subscriptions.models import Keyword, KeywordKind, ProviderSync, SyncStatus
from subscriptions.providers.sfmc.adapter import QUIET_MARK

HEADER = ["MobileNumber", "ShortCode", "Keyword", "Status"]


def waiting_rows():
    """Local-only deliveries waiting for the provider's own import."""
    return ProviderSync.objects.filter(status=SyncStatus.LOCAL_ONLY, detail__contains=QUIET_MARK)


def import_rows(syncs: Iterable[ProviderSync]) -> Iterator[list[str]]:
    """The file's rows (header first): one per program of each selected delivery that the
    portal holds out and the provider was never told about, as of now."""
    yield HEADER
    seen = set()
    for row in syncs:
        target = (row.contact_id, row.short_code_id, row.provider_id)
        if target in seen:
            continue
        seen.add(target)
        keywords = {
            kw.pk: kw
            for kw in Keyword.objects.filter(
                short_code_id=row.short_code_id, kind=KeywordKind.PROGRAM
            ).select_related("short_code")
            if kw.account_id == row.provider_id
        }
        known = known_state(*target)
        _decided, quiet = decided_out(row, keywords, known)
        for pk in sorted(quiet, key=lambda pk: keywords[pk].word):
            yield [
                row.contact.phone.lstrip("+"),
                row.short_code.code,
                keywords[pk].word,
                "Unsubscribe",
            ]
