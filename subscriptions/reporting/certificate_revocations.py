"""Revocations in a consent certificate: those still waiting for a staff decision (the
summary) and each revocation received (the narrative), with the person's words verbatim.
What a revocation changed, and the staff decision on one, are history events as well; these
entries add what only the revocation records hold: the channel and the words."""

from subscriptions.models import Contact, RevocationChannel, RevocationVerdict
from subscriptions.reporting.certificate_entries import (
    ALL,
    CHUNK,
    SUMMARY,
    TIMELINE,
    Entry,
    Scope,
    label,
)
from subscriptions.revocations import selectors as revocation_selectors


def _codes(revocation) -> str:
    return ", ".join(sorted(code.code for code in revocation.short_codes.all()))


def open_revocations(contact: Contact) -> list[Entry]:
    """Revocations still waiting for a staff decision (sending is paused meanwhile); the
    others were applied or dismissed, and the narrative says so."""
    rows = revocation_selectors.annotated().filter(revocation_selectors.OPEN, contact=contact)
    return [
        Entry(
            section=SUMMARY,
            entry="Open revocation",
            at=r.received_at,
            short_code=_codes(r),
            what=f"Received by {label(RevocationChannel, r.channel)}",
            status="Waiting for a staff decision",
            wording=r.text,
            actor=r.recorded_by_label,
            details=(("Due by", r.due_by),),
        )
        for r in rows.order_by("received_at", "id")
    ]


def _received(contact, scope):
    rows = revocation_selectors.annotated().filter(contact=contact)
    return scope.apply(rows, "received_at", code_field="short_codes__code")


def _received_entry(r) -> Entry:
    return Entry(
        section=TIMELINE,
        entry="Revocation received",
        at=r.received_at,
        short_code=_codes(r),
        program="All programs",
        what=f"Received by {label(RevocationChannel, r.channel)}",
        status=label(RevocationVerdict, r.verdict),
        wording=r.text,
        actor=r.recorded_by_label,
        details=(
            ("Recorded at", r.recorded_at),
            ("Applied at", r.applied_at),
            ("Due by", r.due_by if r.verdict == RevocationVerdict.REVIEW else None),
            ("Message id", r.external_id),
        ),
    )


def revocation_entries(contact: Contact, scope: Scope = ALL):
    """Each revocation received, in the scope's time order (the decisions on them are
    history events: Action.REVIEW_DECIDED, with the staff reason)."""
    received = _received(contact, scope)
    for r in received.iterator(chunk_size=CHUNK):
        yield _received_entry(r)
