"""Fake SkyCore v1.3 XML API: subscribe / unsubscribe per CAMPAIGNREF, sendSMS."""

import secrets
from xml.etree.ElementTree import fromstring

from tests.fakes.base import FakeProvider

PATH = "/API/wxml/1.3/index.php"
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}


class FakeSkyCore(FakeProvider):
    """`state[(mobile, campaignref)]` = subscribed?; `texts` the sendSMS texts it took,
    [(TO, FROM, TEXT, CAMPAIGNREF)]; `confirmations` the opt-out texts SkyCore sent on its
    own ([(mobile, campaignref)], only for an unsubscribe with NOTIFY=yes).
    `enforce_campaign_check` refuses a sendSMS without CAMPAIGNREF (the account setting of
    that name); `billing_problem` answers every sendSMS with E713."""

    def __init__(self, *, api_key="sky-key", **kwargs):
        super().__init__(**kwargs)
        self.api_key = api_key
        self.state = {}  # (mobile, campaignref) -> subscribed?
        self.texts = []
        self.confirmations = []
        self.enforce_campaign_check = False
        self.billing_problem = False

    @property
    def api_url(self):
        return self.url + PATH

    def calls(self):
        """[(ACTION, CAMPAIGNREF, MOBILE)] of every subscribe / unsubscribe, in order."""
        return [
            (x["ACTION"], x["CAMPAIGNREF"], x["MOBILE"])
            for x in map(self.xml, self.requests)
            if "CAMPAIGNREF" in x and "MOBILE" in x
        ]

    def sent_texts(self):
        """The sendSMS requests' fields, in arrival order (refused ones too)."""
        return [x for x in map(self.xml, self.requests) if x.get("ACTION") == "sendSMS"]

    @staticmethod
    def xml(request):
        return {child.tag: (child.text or "") for child in fromstring(request.form["xml"])}

    def handset_text(self, mobile, text):
        """A handset's stop word to the code: SkyCore unsubscribes every campaign it holds
        the number in (and, as the portal assumes, texts nothing itself)."""
        with self._lock:
            if text.split()[0].upper() in STOP_WORDS:
                for key in [k for k in self.state if k[0] == mobile]:
                    self.state[key] = False

    def respond(self, request):
        if request.path != PATH:
            return 404, {}, "not found"
        fields = self.xml(request)
        if fields.get("API_KEY") != self.api_key:
            return answer("Failure", "E104", "Authentication failed")
        action = fields.get("ACTION")
        if action == "getMessagingCampaigns":  # read-only
            return (
                200,
                {"Content-Type": "text/xml"},
                "<RESPONSE><STATUS>Success</STATUS><MESSAGINGCAMPAIGNS><CAMPAIGN><ID>1</ID>"
                "<NAME>Demo</NAME><REFERENCE>ref-1</REFERENCE></CAMPAIGN></MESSAGINGCAMPAIGNS>"
                "</RESPONSE>",
            )
        if action == "sendSMS":
            return self._send_sms(fields)
        if action not in ("subscribe", "unsubscribe"):
            return answer("Failure", "E100", "Invalid request")
        key = (fields["MOBILE"], fields["CAMPAIGNREF"])
        if action == "unsubscribe" and fields.get("NOTIFY", "yes").lower() != "no":
            self.confirmations.append(key)
        self.state[key] = action == "subscribe"
        return answer("Success")

    def _send_sms(self, fields):
        to, sender, text = fields.get("TO", ""), fields.get("FROM", ""), fields.get("TEXT", "")
        if not (to.isdigit() and sender and text):
            return answer("Failure", "E100", "TO, FROM and TEXT are required")
        if self.enforce_campaign_check and not fields.get("CAMPAIGNREF"):
            return answer("Failure", "E100", "CAMPAIGNREF required (Enforce Campaign Check)")
        if self.billing_problem:
            return answer("Failure", "E713", "Billing problem")
        self.texts.append((to, sender, text, fields.get("CAMPAIGNREF", "")))
        tracking = secrets.token_hex(6)
        return (
            200,
            {"Content-Type": "text/xml"},
            f"<RESPONSE><STATUS>Success</STATUS><TRACKINGID>{tracking}</TRACKINGID>"
            f"<TO>{to}</TO></RESPONSE>",
        )


def answer(status, code="", info=""):
    extra = f"<ERRORCODE>{code}</ERRORCODE><ERRORINFO>{info}</ERRORINFO>" if code else ""
    return (
        200,
        {"Content-Type": "text/xml"},
        f"<RESPONSE><STATUS>{status}</STATUS>{extra}</RESPONSE>",
    )
