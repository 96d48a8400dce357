"""SkyCore over the v1.3 XML API: subscribe / unsubscribe per campaign (CAMPAIGNREF =
the program keyword's provider_ref) and sendSMS for the portal's own texts.
docs/providers.md "SkyCore"."""

from xml.etree.ElementTree import Element, SubElement, tostring

from defusedxml.ElementTree import ParseError, fromstring
from django.db.models import Q

from subscriptions.models import Keyword, KeywordKind, OutboundMessage
from subscriptions.providers.base import (
    Capabilities,
    HttpAdapter,
    PermanentError,
    Reconciled,
    Reconciliation,
    RetryableError,
)

DEFAULT_API_URL = "https://secure.skycore.com/API/wxml/1.3/index.php"
LIST_CAMPAIGNS = "getMessagingCampaigns"  # read-only
SEND_SMS = "sendSMS"
RETRYABLE_CODES = {"E106"}  # rate limited
ERROR_MEANINGS = {
    "E100": "invalid request",
    "E104": "authentication failed",
    "E105": "no API rights",
    "E106": "rate limited",
    "E107": "no rights to this action",
    "E108": "XML parse error",
    "E713": "billing problem on the SkyCore account",
}


class SkyCoreAdapter(HttpAdapter):
    kind = "skycore"
    capabilities = Capabilities(
        keyword_opt_out=True,
        code_opt_out=False,
        keyword_opt_in=True,
        send_text=True,
        postbacks=True,
    )

    def reconcile(self, rec: Reconciliation) -> Reconciled:
        result = Reconciled()
        for action, keywords in (("subscribe", rec.joined), ("unsubscribe", rec.left)):
            for keyword in keywords:
                if not keyword.provider_ref:
                    result.local.append(
                        f"{keyword.word} has no SkyCore CAMPAIGNREF "
                        f"(provider_ref); SkyCore cannot be told of {action}"
                    )
                    continue
                self.request(action, keyword.provider_ref, rec.digits)
                rec.arrived([keyword], action == "subscribe")
                result.sent.append(f"{action} CAMPAIGNREF {keyword.provider_ref}")
        return result

    def request(self, action, campaign_ref, mobile):
        fields = {"CAMPAIGNREF": campaign_ref, "MOBILE": mobile}
        if action == "unsubscribe":
            fields["NOTIFY"] = "no"  # the portal sends the one confirmation text itself
        return self._send(action, fields)

    def send_text(self, message: OutboundMessage) -> str:
        """sendSMS from the short code; the campaign of one of the account's programs on
        the code goes with it (`text_campaign_ref`)."""
        fields = {"TO": message.phone.lstrip("+"), "FROM": message.short_code.code}
        campaign_ref = text_campaign_ref(self.account, message.short_code)
        if campaign_ref:
            fields["CAMPAIGNREF"] = campaign_ref
        fields["TEXT"] = message.text
        root = self._send(SEND_SMS, fields)
        tracking = (root.findtext("TRACKINGID") or "").strip()
        return f"{SEND_SMS} from {message.short_code.code}" + (
            f", tracking id {tracking}" if tracking else ""
        )

    def test_connection(self) -> str:
        """getMessagingCampaigns: a read of the account's campaigns with the API key."""
        root = self._send(LIST_CAMPAIGNS, {})
        count = len(root.findall(".//CAMPAIGN"))
        return f"SkyCore accepted the API key; {count} messaging campaign(s) listed."

    def _send(self, action, extra):
        root = Element("REQUEST")
        fields = {"ACTION": action, "API_KEY": self.secret("api_key"), **extra}
        for name, value in fields.items():
            SubElement(root, name).text = value
        url = (self.account.settings or {}).get("api_url") or DEFAULT_API_URL
        response = self.call("POST", url, data={"xml": tostring(root, encoding="unicode")})
        return parse_response(response)


def text_campaign_ref(account, short_code) -> str:
    """The CAMPAIGNREF a text on `short_code` is sent under: that of the account's first
    program keyword on the code (by word) that has one, or "" when none has. An account
    with SkyCore's "Enforce Campaign Check" refuses a sendSMS without a campaign, and the
    campaign is how SkyCore files the text (its reports, its per-campaign opt-outs)."""
    owned = Q(provider=account) | Q(provider__isnull=True, short_code__provider=account)
    return (
        Keyword.objects.filter(owned, short_code=short_code, kind=KeywordKind.PROGRAM)
        .exclude(provider_ref="")
        .order_by("word", "pk")
        .values_list("provider_ref", flat=True)
        .first()
    ) or ""


def parse_response(response):
    if response.status_code != 200:
        raise PermanentError(f"SkyCore answered HTTP {response.status_code}")
    try:
        root = fromstring(response.content)
    except ParseError as exc:
        raise RetryableError(f"SkyCore answered unreadable XML: {exc}") from exc
    status = (root.findtext("STATUS") or "").strip().lower()
    if status == "success":
        return root
    code = (root.findtext("ERRORCODE") or "").strip()
    info = (root.findtext("ERRORINFO") or "").strip()
    message = f"SkyCore {code or 'failure'}: {info or ERROR_MEANINGS.get(code, 'no detail')}"
    if code in RETRYABLE_CODES:
        raise RetryableError(message)
    raise PermanentError(message)
