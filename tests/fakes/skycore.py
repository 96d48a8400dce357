"""Fake SkyCore v1.3 XML API: subscribe / unsubscribe per CAMPAIGNREF."""

from xml.etree.ElementTree import fromstring

from tests.fakes.base import FakeProvider

PATH = "/API/wxml/1.3/index.php"


class FakeSkyCore(FakeProvider):
    def __init__(self, *, api_key="sky-key", **kwargs):
        super().__init__(**kwargs)
        self.api_key = api_key
        self.state = {}  # (mobile, campaignref) -> subscribed?

    @property
    def api_url(self):
        return self.url + PATH

    def calls(self):
        """[(ACTION, CAMPAIGNREF, MOBILE)] of every request, in arrival order."""
        return [
            (x["ACTION"], x["CAMPAIGNREF"], x["MOBILE"])
            for x in map(self.xml, self.requests)
            if "CAMPAIGNREF" in x
        ]

    @staticmethod
    def xml(request):
        return {child.tag: (child.text or "") for child in fromstring(request.form["xml"])}

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
        if action not in ("subscribe", "unsubscribe"):
            return answer("Failure", "E100", "Invalid request")
        self.state[(fields["MOBILE"], fields["CAMPAIGNREF"])] = action == "subscribe"
        return answer("Success")


def answer(status, code="", info=""):
    extra = f"<ERRORCODE>{code}</ERRORCODE><ERRORINFO>{info}</ERRORINFO>" if code else ""
    return (
        200,
        {"Content-Type": "text/xml"},
        f"<RESPONSE><STATUS>{status}</STATUS>{extra}</RESPONSE>",
    )
