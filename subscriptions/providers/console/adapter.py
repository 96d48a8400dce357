"""The console provider: sends nothing anywhere; every text and every reconciliation is
recorded in the database (OutboundMessage rows are the `outbox/` API; ProviderSync.detail
says what a real provider would have been told) and the log. The default for development
and demos."""

import logging

from subscriptions.models import OutboundMessage
from subscriptions.providers.base import Adapter, Capabilities, Reconciled, Reconciliation

logger = logging.getLogger("subscriptions.providers.console.adapter")


class ConsoleAdapter(Adapter):
    kind = "console"
    capabilities = Capabilities(
        keyword_opt_out=True, code_opt_out=True, keyword_opt_in=True, send_text=True
    )

    def reconcile(self, rec: Reconciliation) -> Reconciled:
        result = Reconciled()
        for verb, keywords in (("subscribe", rec.joined), ("unsubscribe", rec.left)):
            for keyword in keywords:
                line = (
                    f"console: {verb} {rec.contact.phone} {keyword.word} on {rec.short_code.code}"
                )
                logger.info(line)
                result.sent.append(line)
                rec.arrived([keyword], verb == "subscribe")
        return result

    def test_connection(self) -> str:
        return "The console provider records everything locally; there is nothing to reach."

    def send_text(self, message: OutboundMessage) -> str:
        logger.info(
            "console text from %s to %s: %s", message.short_code.code, message.phone, message.text
        )
        return "recorded by the console provider"
