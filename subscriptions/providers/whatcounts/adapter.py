"""WhatCounts over the api_web command interface. Everything is per SENDER CODE (the short
code); there are no keywords, so the number is added when its first program on the code is
joined and stopped when no program there remains opted in; the portal's texts go out with
smssendmessagetophone. docs/providers.md "WhatCounts"."""

from subscriptions.models import OutboundMessage
from subscriptions.providers.base import (
    Capabilities,
    HttpAdapter,
    PermanentError,
    Reconciled,
    Reconciliation,
    RetryableError,
)

ADD = "addphonetosendercode"
# Read-only: the realm's feature settings; needs the realm and the API password.
REALM_SETTINGS = "getrealmsettings"
STOP = "smsstopsubscribersend"
# Sends one text from the sender code. WhatCounts honours its own opt-outs: a number it
# stopped gets nothing (FAILURE), which is why its stop message is the confirmation.
SEND = "smssendmessagetophone"
# FAILURE texts that mean the provider is already in the wanted state.
ALREADY = {
    ADD: ("subscription exists", "already"),
    STOP: ("does not exist", "no subscription", "not found", "already"),
    SEND: (),  # a text that did not go out never counts as sent
}


class WhatCountsAdapter(HttpAdapter):
    kind = "whatcounts"
    capabilities = Capabilities(code_opt_out=True, send_text=True)

    def reconcile(self, rec: Reconciliation) -> Reconciled:
        result = Reconciled()
        if rec.any_in and rec.was_any_in is not True:
            result.sent.append(self.command(ADD, rec))
            rec.arrived(rec.joined, True)
        elif not rec.any_in and rec.was_any_in is not False:
            result.sent.append(self.command(STOP, rec))
            rec.arrived(rec.keywords.values(), False)  # per sender code: every program
        elif rec.left:
            words = ", ".join(kw.word for kw in rec.left)
            result.local.append(
                f"WhatCounts works per sender code and another program on "
                f"{rec.short_code.code} is still opted in; left {words}"
            )
        return result

    def command(self, command, rec):
        response = self._post(command, phone=rec.digits, sender_code=rec.short_code.code)
        return f"{command} {rec.short_code.code}: {parse_reply(command, response)}"

    def send_text(self, message: OutboundMessage) -> str:
        code = message.short_code.code
        response = self._post(
            SEND, phone=message.phone.lstrip("+"), sender_code=code, message_text=message.text
        )
        return f"{SEND} {code}: {parse_reply(SEND, response)}"

    def test_connection(self) -> str:
        """getrealmsettings: a read of the realm's settings with the realm and password."""
        response = self._post(REALM_SETTINGS)
        text = response.text.strip()
        if response.status_code != 200:
            raise PermanentError(f"WhatCounts answered HTTP {response.status_code}: {text[:200]}")
        if text.upper().startswith("FAILURE"):
            raise PermanentError(f"WhatCounts {REALM_SETTINGS}: {text[:200]}")
        return f"WhatCounts accepted the realm and password ({REALM_SETTINGS})."

    def _post(self, command, **fields):
        settings = self.account.settings or {}
        base_url = settings.get("base_url", "").rstrip("/")
        if not base_url:
            raise PermanentError("The WhatCounts account has no base_url setting.")
        return self.call(
            "POST",
            f"{base_url}/bin/api_web",
            data={
                "c": command,
                "r": settings.get("realm", ""),
                "p": self.secret("password"),
                **fields,
            },
        )


def parse_reply(command, response):
    text = response.text.strip()
    if response.status_code != 200:
        raise PermanentError(f"WhatCounts answered HTTP {response.status_code}: {text[:200]}")
    if text.upper().startswith("SUCCESS"):
        return text
    if text.upper().startswith("FAILURE"):
        reason = text.partition(":")[2].strip()
        if any(phrase in reason.lower() for phrase in ALREADY[command]):
            return f"already in effect ({text})"
        raise PermanentError(f"WhatCounts {command}: {text[:200]}")
    raise RetryableError(f"WhatCounts answered neither SUCCESS nor FAILURE: {text[:200]}")
