"""Pure comparisons: what a batch's numbers hold at the portal next to what the provider
holds (or may hold), as findings (drift rows to be)."""

from dataclasses import dataclass

from subscriptions.models import DriftAction, Held, Keyword


@dataclass(frozen=True)
class Finding:
    contact_id: int
    keyword: Keyword
    portal: str
    provider: str
    action: str


def held_at_provider(rows) -> set[tuple[str, str, str]]:
    """{(digits, short code, KEYWORD)} from SFMC lookup rows: each row with an optInDate is
    a number opted in to that keyword on that code (docs/api.md)."""
    return {
        (
            str(row.get("mobileNumber", "")).lstrip("+"),
            str(row.get("shortCode") or ""),
            str(row.get("keyword", "")).upper(),
        )
        for row in rows
        if row.get("optInDate")
    }


def compare(batch, programs, portal, held) -> list[Finding]:
    """Per number and program: in step when both sides agree (or the portal has no record and
    the provider does not hold it); held in at the provider while the portal has it out ->
    the opt-out is sent again, unless another program of the account on the code is in at
    the portal (SFMC opts out only code-wide: the portal's sendability check blocks it);
    anything else is reported, never opted in."""
    findings = []
    for contact_id, phone in batch:
        digits = phone.lstrip("+")
        for keywords in programs.values():
            any_in = any(portal[(contact_id, kw.pk)] == Held.IN for kw in keywords)
            for kw in keywords:
                word = kw.word.upper()
                there = (digits, kw.short_code.code, word) in held or (digits, "", word) in held
                provider = Held.IN if there else Held.OUT
                ours = portal[(contact_id, kw.pk)]
                if ours == provider or (ours == Held.UNKNOWN and provider == Held.OUT):
                    continue
                fixable = ours == Held.OUT and provider == Held.IN and not any_in
                action = DriftAction.OPT_OUT_SENT if fixable else DriftAction.REPORTED
                findings.append(Finding(contact_id, kw, ours, provider, action))
    return findings


def owed_opt_outs(batch, programs, portal, *, per_code) -> list[Finding]:
    """A provider without a read API may hold any opt-out the portal has: each is sent
    again. `per_code`: the provider works per short code (WhatCounts), so a code where
    another program is still in at the portal cannot be stopped."""
    findings = []
    for contact_id, _phone in batch:
        for keywords in programs.values():
            states = {kw.pk: portal[(contact_id, kw.pk)] for kw in keywords}
            if per_code and Held.IN in states.values():
                continue
            findings.extend(
                Finding(contact_id, kw, Held.OUT, Held.UNKNOWN, DriftAction.OPT_OUT_SENT)
                for kw in keywords
                if states[kw.pk] == Held.OUT
            )
    return findings
