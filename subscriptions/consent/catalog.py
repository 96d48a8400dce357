"""The configuration the inbound paths read on every request: a short code's keywords and a
provider account by its postback token. Kept per process (`subscriptions.common.memo`,
namespace CATALOG: dropped on every save and delete of a short code, keyword or provider
account, in this process at once and in the others within about a second).

A code's keywords are loaded once, all together, so that every question about them (is
this word a keyword? which accounts serve the code? which programs does an account own
there? which program has this provider reference?) is answered from memory, including the
answer "none" (which a lookup of one row could not keep).
"""

from dataclasses import dataclass

from subscriptions.common import memo
from subscriptions.models import Keyword, KeywordKind, ProviderAccount, ProviderKind


@dataclass(frozen=True, slots=True)
class CodeKeywords:
    """Every keyword of one short code, by id order, and by word."""

    items: tuple[Keyword, ...]
    by_word: dict[str, Keyword]


def _load_keywords(short_code_id: int) -> CodeKeywords:
    items = tuple(
        Keyword.objects.select_related("short_code__provider", "provider")
        .filter(short_code_id=short_code_id)
        .order_by("id")
    )
    return CodeKeywords(items=items, by_word={keyword.word: keyword for keyword in items})


def keywords_on(short_code_id: int) -> CodeKeywords:
    """The keywords of a short code (an empty CodeKeywords for a code without any)."""
    return memo.lookup(
        memo.CATALOG, ("keywords", short_code_id), lambda: _load_keywords(short_code_id)
    )


def keyword_on(short_code_id: int, word: str) -> Keyword | None:
    """The keyword `word` (exactly as stored: upper case) on a code, or None."""
    if not word:
        return None
    return keywords_on(short_code_id).by_word.get(word)


def owned_by(keyword: Keyword, account_id: int) -> bool:
    """A keyword belongs to its own provider account, or to the code's when it has none."""
    return keyword.account_id == account_id


def accounts_serving(short_code) -> set[int]:
    """The accounts with programs on a code: the code's own and every keyword's owner."""
    owners = {k.provider_id for k in keywords_on(short_code.pk).items if k.provider_id}
    return {short_code.provider_id, *owners}


def program_ids_of(short_code_id: int, account_id: int) -> list[int]:
    """The program keywords `account_id` owns on a code."""
    return [
        keyword.pk
        for keyword in keywords_on(short_code_id).items
        if keyword.kind == KeywordKind.PROGRAM and owned_by(keyword, account_id)
    ]


def program_by_ref(short_code_id: int, account_id: int, provider_ref: str) -> Keyword | None:
    """The first program (by id) on a code that the account knows as `provider_ref`."""
    for keyword in keywords_on(short_code_id).items:
        if (
            keyword.kind == KeywordKind.PROGRAM
            and keyword.provider_ref == provider_ref
            and owned_by(keyword, account_id)
        ):
            return keyword
    return None


def postback_account(token: str, kind: str = ProviderKind.SKYCORE) -> ProviderAccount | None:
    """The active account of `kind` whose postback URL carries `token`, or None (an unknown
    token is asked again each time, so random tokens cannot fill the memory)."""
    return memo.lookup(
        memo.CATALOG,
        ("postback-account", kind, token),
        lambda: ProviderAccount.objects.filter(
            postback_token=token, kind=kind, is_active=True
        ).first(),
    )
