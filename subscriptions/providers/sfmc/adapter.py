"""Salesforce Marketing Cloud MobileConnect. docs/providers.md "SFMC".

- Auth: v2/token client credentials for one business unit (account_id = MID); the token is
  cached in the shared cache until shortly before it expires and fetched again on a 401.
- Opt-in per keyword: messageContact/{provider_ref}/send with Subscribe + Resubscribe, or
  queueMO of the keyword when the keyword has no message key.
- Opt-out exists only code-wide: queueMO "STOP" (or this account's custom stop keyword on
  the code, which limits it to the business unit). So leaving one program while another of
  the account stays opted in cannot be told to SFMC: it stays local (the portal's
  sendability check blocks that program) and the stop is sent once none remains. On a code
  shared with other accounts, a plain STOP would also end their programs: without a custom
  stop keyword of this account it stays local while another account's program is in.
"""

import hashlib

from django.core.cache import cache

from subscriptions.models import OutboundMessage
from subscriptions.providers.base import (
    Capabilities,
    HttpAdapter,
    PermanentError,
    Reconciled,
    Reconciliation,
    RetryableError,
)

# Marks the local-only rows staff hand to SFMC's own import (admin: Provider syncs).
QUIET_MARK = "for the provider's import"
QUEUE_MO_LIMIT = 250  # numbers per queueMO call (docs/providers.md)
LOOKUP_LIMIT = 500  # numbers per contacts/subscriptions lookup
TOKEN_EARLY_REFRESH = 60  # seconds before expiry a cached token is no longer used


class SfmcAdapter(HttpAdapter):
    kind = "sfmc"
    capabilities = Capabilities(code_opt_out=True, keyword_opt_in=True, send_text=True, lookup=True)

    def reconcile(self, rec: Reconciliation) -> Reconciled:
        result = Reconciled()
        for keyword in rec.joined:
            result.sent.append(self.opt_in(rec, keyword))
            rec.arrived([keyword], True)
        if rec.left and rec.any_in:
            still = ", ".join(kw.word for kw in rec.keywords.values() if rec.desired.get(kw.pk))
            left = ", ".join(kw.word for kw in rec.left)
            result.local.append(
                f"SFMC can only opt out code-wide and {still} is still opted "
                f"in; {left} is blocked by the portal's sendability check"
            )
        elif rec.left and not rec.stop_keyword and rec.other_accounts_in:
            others = ", ".join(rec.other_accounts_in)
            result.local.append(
                f"this business unit has no custom stop keyword on "
                f"{rec.short_code.code} and STOP would also end {others} of "
                f"another account; the portal's sendability check blocks it"
            )
        elif rec.left and not rec.left_loudly:
            words = ", ".join(kw.word for kw in rec.left)
            result.local.append(
                f"{QUIET_MARK}: {words} opted out by an import and SFMC was never told of "
                f"this number; a queueMO STOP would text the person, so it is listed for "
                f"SFMC's own import (Status Unsubscribe), which opts out quietly"
            )
        elif rec.left:
            stop_word = rec.stop_keyword.word if rec.stop_keyword else "STOP"
            self.queue_mo(rec, stop_word)
            rec.arrived(rec.keywords.values(), False)
            result.sent.append(f"queueMO {stop_word} on {rec.short_code.code}")
        return result

    def opt_in(self, rec, keyword):
        if not keyword.provider_ref:
            self.queue_mo(rec, keyword.word)
            return f"queueMO {keyword.word} on {rec.short_code.code}"
        self.rest(
            "POST",
            f"/sms/v1/messageContact/{keyword.provider_ref}/send",
            {
                "mobileNumbers": [rec.digits],
                "Subscribe": True,
                "Resubscribe": True,
                "keyword": keyword.word,
            },
        )
        return f"messageContact {keyword.provider_ref} Subscribe/Resubscribe {keyword.word}"

    def queue_mo(self, rec, text):
        self.queue_mo_many(rec.short_code.code, text, [rec.digits])

    def queue_mo_many(self, short_code: str, text: str, numbers: list[str]) -> None:
        """One queueMO for up to QUEUE_MO_LIMIT numbers (as if each had texted `text`)."""
        if not 0 < len(numbers) <= QUEUE_MO_LIMIT:
            raise ValueError(f"queueMO takes 1 to {QUEUE_MO_LIMIT} numbers")
        self.rest(
            "POST",
            "/sms/v1/queueMO",
            {"shortCode": short_code, "messageText": text, "mobileNumbers": numbers},
        )

    def stop_word(self, rec) -> str | None:
        """The word a reconciliation that only has to opt the number out of the whole code
        sends (queueMO), or None when it must do something else (opt-ins, a local-only
        case): what lets a batch of such deliveries share one queueMO call."""
        if rec.joined or not rec.left or rec.any_in or not rec.left_loudly:
            return None
        if not rec.stop_keyword and rec.other_accounts_in:
            return None
        return rec.stop_keyword.word if rec.stop_keyword else "STOP"

    def lookup(self, numbers: list[str]) -> list[dict]:
        """What SFMC holds for up to LOOKUP_LIMIT numbers: [{mobileNumber, shortCode,
        keyword, optInDate}], one row per subscription; a number absent is not opted in."""
        if not 0 < len(numbers) <= LOOKUP_LIMIT:
            raise ValueError(f"the lookup takes 1 to {LOOKUP_LIMIT} numbers")
        response = self.rest("POST", "/sms/v1/contacts/subscriptions", {"mobileNumbers": numbers})
        try:
            contacts = response.json().get("contacts") or []
        except (ValueError, AttributeError) as exc:
            raise RetryableError(f"SFMC lookup answered unreadable JSON: {exc}") from exc
        return [row for row in contacts if isinstance(row, dict)]

    def send_text(self, message: OutboundMessage) -> str:
        key = (self.account.settings or {}).get("send_message_key")
        if not key:
            raise PermanentError(
                "The SFMC account has no send_message_key setting (the "
                "MobileConnect message used to send texts with Override)."
            )
        self.rest(
            "POST",
            f"/sms/v1/messageContact/{key}/send",
            {
                "mobileNumbers": [message.phone.lstrip("+")],
                "Override": True,
                "messageText": message.text,
            },
        )
        return f"messageContact {key} Override"

    def test_connection(self) -> str:
        """A fresh v2/token for the business unit: proves the URL, the client id and secret
        and the MID, and changes nothing at SFMC."""
        cache.delete(self._token_key())
        token = self.token()
        self.extra_secrets.add(token)
        return f"SFMC issued an access token for MID {self.setting('account_id')}."

    # HTTP with the cached token ----------------------------------------------------------

    def rest(self, method, path, body):
        base = self.setting("rest_base_url").rstrip("/")
        response = self._authorized(method, base + path, body, self.token())
        if response.status_code == 401:
            cache.delete(self._token_key())
            response = self._authorized(method, base + path, body, self.token())
        return check(response)

    def _authorized(self, method, url, body, token):
        self.extra_secrets.add(token)
        return self.call(method, url, json=body, headers={"Authorization": f"Bearer {token}"})

    def token(self):
        key = self._token_key()
        token = cache.get(key)
        if token:
            return token
        body = {
            "grant_type": "client_credentials",
            "client_id": self.secret("client_id"),
            "client_secret": self.secret("client_secret"),
            "account_id": self.setting("account_id"),
        }
        response = self.call(
            "POST", self.setting("auth_base_url").rstrip("/") + "/v2/token", json=body
        )
        if response.status_code in (400, 401, 403):
            raise PermanentError(
                f"SFMC refused the credentials ({response.status_code}): {response.text[:200]}"
            )
        payload = check(response).json()
        token = payload["access_token"]
        lifetime = int(payload.get("expires_in", 1080)) - TOKEN_EARLY_REFRESH
        cache.set(key, token, timeout=max(1, lifetime))
        return token

    def _token_key(self):
        ident = "|".join(
            [
                self.setting("auth_base_url"),
                self.secret("client_id"),
                str(self.setting("account_id")),
            ]
        )
        return "sfmc-token:" + hashlib.sha256(ident.encode()).hexdigest()

    def setting(self, name):
        value = (self.account.settings or {}).get(name)
        if not value:
            raise PermanentError(f"The SFMC account {self.account.name!r} has no {name} setting.")
        return value


def check(response):
    if response.status_code in (200, 201, 202):
        return response
    try:
        payload = response.json()
    except ValueError:
        payload = response.text[:200]
    errors = payload.get("errors", payload) if isinstance(payload, dict) else payload
    raise PermanentError(f"SFMC answered {response.status_code}: {errors}")
