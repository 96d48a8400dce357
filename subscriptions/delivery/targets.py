"""The delivery's reads, set-based: for outbox rows whose contacts the caller holds locked,
every row of each row's target (contact, short code, account) is read once, and the portal's
current state of all the targets (keywords, subscriptions, stops) in one statement each,
whatever the number of rows. Claims (claims.py) and results (record.py) decide from these."""

from collections import defaultdict
from collections.abc import Iterable

from django.db.models import Exists, OuterRef, Subquery

from subscriptions.delivery.state import account_filter, decided_from
from subscriptions.models import (
    Keyword,
    KeywordKind,
    ProviderSync,
    ShortCodeStop,
    Status,
    Subscription,
)
from subscriptions.providers.base import Reconciliation


def target_key(row) -> tuple[int, int, int]:
    return (row.contact_id, row.short_code_id, row.provider_id)


class Targets:
    """Every outbox row of some targets, read in one statement (under the contacts' locks):
    the rows in flight or waiting, and the states written, by version."""

    def __init__(self, rows_by_target: dict):
        self.rows = rows_by_target
        self.by_pk = {row.pk: row for rows in rows_by_target.values() for row in rows}

    @classmethod
    def read(cls, keys: Iterable[tuple[int, int, int]]) -> "Targets":
        keys = set(keys)
        by_target = defaultdict(list)
        if keys:
            contacts, codes, accounts = (sorted({key[i] for key in keys}) for i in range(3))
            for row in ProviderSync.objects.filter(
                contact_id__in=contacts, short_code_id__in=codes, provider_id__in=accounts
            ).order_by("id"):
                if target_key(row) in keys:
                    by_target[target_key(row)].append(row)
        return cls(by_target)

    @classmethod
    def read_for(cls, sync_ids) -> "Targets":
        """Every row of the targets of these rows, with their contact, short code and account
        (one statement: the rows themselves are among them)."""
        same_target = ProviderSync.objects.filter(
            pk__in=sync_ids,
            contact_id=OuterRef("contact_id"),
            short_code_id=OuterRef("short_code_id"),
            provider_id=OuterRef("provider_id"),
        )
        by_target = defaultdict(list)
        for row in (
            ProviderSync.objects.filter(
                contact_id__in=Subquery(
                    ProviderSync.objects.filter(pk__in=sync_ids).values("contact_id")
                )
            )
            .filter(Exists(same_target))
            .select_related("contact", "short_code", "provider")
            .order_by("id")
        ):
            by_target[target_key(row)].append(row)
        return cls(by_target)

    def of(self, key) -> list[ProviderSync]:
        return self.rows.get(key, [])

    def known(self, key) -> dict:
        """What the provider is known to hold: the state of the highest version (see
        state.known_state)."""
        versioned = [row for row in self.of(key) if row.state_version is not None]
        if not versioned:
            return {}
        latest = max(versioned, key=lambda row: row.state_version)
        return {int(pk): value for pk, value in (latest.state or {}).items()}

    def next_version(self, key) -> int:
        versions = [row.state_version for row in self.of(key) if row.state_version is not None]
        return max(versions, default=0) + 1


class PortalState:
    """The portal's current state for the targets of some rows: the program and stop
    keywords of each (account, code), and each (contact, code)'s subscriptions and stop."""

    def __init__(self, rows):
        pairs = {(row.provider_id, row.short_code_id) for row in rows}
        self.keywords = {pair: _account_keywords(*pair) for pair in sorted(pairs)}
        contacts = sorted({row.contact_id for row in rows})
        codes = sorted({row.short_code_id for row in rows})
        self.subs = defaultdict(dict)  # (contact, code) -> {keyword id: (word, status, source)}
        for contact_id, code_id, keyword_id, word, status, source in Subscription.objects.filter(
            contact_id__in=contacts, short_code_id__in=codes
        ).values_list(
            "contact_id", "short_code_id", "keyword_id", "keyword__word", "status", "last_source"
        ):
            self.subs[(contact_id, code_id)][keyword_id] = (word, status, source)
        self.stops = self._stops(rows)

    def _stops(self, rows):
        """Active stops, asked only for contacts with a program of the account they never
        had a subscription to (only there does a stop decide anything: state.decided_from)."""
        asked = {
            (row.contact_id, row.short_code_id)
            for row in rows
            if any(
                kw.pk not in self.subs[(row.contact_id, row.short_code_id)]
                for kw in self.programs(row)
            )
        }
        if not asked:
            return {}
        return {
            (contact_id, code_id): source
            for contact_id, code_id, source in ShortCodeStop.objects.filter(
                contact_id__in=sorted({pair[0] for pair in asked}),
                short_code_id__in=sorted({pair[1] for pair in asked}),
                cleared_at__isnull=True,
            ).values_list("contact_id", "short_code_id", "source")
        }

    def programs(self, row) -> list:
        return [
            kw
            for kw in self.keywords[(row.provider_id, row.short_code_id)]
            if kw.kind == KeywordKind.PROGRAM
        ]

    def reconciliation(self, row, known: dict) -> Reconciliation:
        """What the row's account must be told about its target (providers.base
        Reconciliation): the portal's current state next to what the provider knows."""
        account_keywords = self.keywords[(row.provider_id, row.short_code_id)]
        keywords = {kw.pk: kw for kw in self.programs(row)}
        subs = self.subs[(row.contact_id, row.short_code_id)]
        opted_in = {
            pk: word for pk, (word, status, _src) in subs.items() if status == Status.OPTED_IN
        }
        decided, quiet = decided_from(
            keywords,
            known,
            {pk: (status, source) for pk, (_word, status, source) in subs.items()},
            self.stops.get((row.contact_id, row.short_code_id)),
        )
        return Reconciliation(
            contact=row.contact,
            short_code=row.short_code,
            account=row.provider,
            keywords=keywords,
            desired={pk: pk in opted_in for pk in keywords},
            known=known,
            stop_keyword=next((kw for kw in account_keywords if kw.kind == KeywordKind.STOP), None),
            other_accounts_in=sorted(word for pk, word in opted_in.items() if pk not in keywords),
            decided_out=decided,
            quiet=quiet,
        )


def _account_keywords(account_id, code_id):
    return list(
        Keyword.objects.filter(
            account_filter(account_id),
            short_code_id=code_id,
            kind__in=[KeywordKind.PROGRAM, KeywordKind.STOP],
        ).order_by("word")
    )
