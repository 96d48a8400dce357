"""Fake Salesforce Marketing Cloud MobileConnect: v2/token, queueMO, messageContact send, and
the subscription lookup (POST /sms/v1/contacts/subscriptions, at most 500 numbers a call)."""

import re
import secrets

from tests.fakes.base import FakeProvider, json_answer

SEND = re.compile(r"^/sms/v1/messageContact/(?P<key>[^/]+)/send$")
LOOKUP = "/sms/v1/contacts/subscriptions"
LOOKUP_LIMIT = 500
OPT_IN_DATE = "2026-01-01T00:00:00"


class FakeSfmc(FakeProvider):
    """`state[(mobile, keyword)]` = opted in?; a queueMO of a stop word opts the number out
    of every keyword of that short code it knows (`stop_words` lists the custom ones).
    `short_codes[keyword]` is the code a keyword belongs to (learned from queueMO; set it
    for the others): the lookup answers with it. `set_held(...)` makes drift, as a journey
    or a change in SFMC's console would. `texts` are the Override sends (the portal's texts),
    `confirmations` the STOP confirmations SFMC texts itself, [(mobile, stop word)], one per
    stop word it processes (from the handset or a queueMO)."""

    def __init__(
        self,
        *,
        client_id="sfmc-id",
        client_secret="sfmc-secret",
        account_id="111",
        expires_in=1080,
        stop_words=(),
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.client = (client_id, client_secret, account_id)
        self.expires_in = expires_in
        self.stop_words = {"STOP", *stop_words}
        self.tokens = set()
        self.state = {}
        self.short_codes = {}
        self.keywords_seen = set()
        self.texts = []
        self.confirmations = []

    def expire_tokens(self):
        """Every token issued so far answers 401 from now on."""
        with self._lock:
            self.tokens.clear()

    def token_requests(self):
        return [r for r in self.requests if r.path == "/v2/token"]

    def rest_calls(self):
        """[(path, json body)] of the REST calls, in arrival order."""
        return [(r.path, r.json) for r in self.requests if r.path.startswith("/sms/")]

    def respond(self, request):
        if request.path == "/v2/token":
            return self._token(request.json or {})
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            return json_answer(401, {"message": "Not Authorized", "errorcode": 0})
        if request.path == "/sms/v1/queueMO":
            return self._queue_mo(request.json)
        if request.path == LOOKUP:
            return self._lookup(request.json or {})
        match = SEND.match(request.path)
        if match:
            return self._send(request.json)
        return json_answer(404, {"errors": ["not found"]})

    def _token(self, body):
        given = (body.get("client_id"), body.get("client_secret"), body.get("account_id"))
        if body.get("grant_type") != "client_credentials" or given != self.client:
            return json_answer(
                401,
                {"error": "invalid_client", "error_description": "Client authentication failed."},
            )
        token = secrets.token_hex(8)
        self.tokens.add(token)
        return json_answer(
            200,
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "scope": "sms_send",
                "rest_instance_url": self.url,
            },
        )

    def set_held(self, mobile, keyword, opted_in, short_code=None):
        with self._lock:
            self.state[(mobile, keyword.upper())] = opted_in
            self.keywords_seen.add(keyword.upper())
            if short_code:
                self.short_codes[keyword.upper()] = short_code

    def lookups(self):
        """The number lists of every lookup call, in arrival order."""
        return [
            (r.json or {}).get("mobileNumbers") or (r.json or {}).get("mobileNumber")
            for r in self.requests
            if r.path == LOOKUP
        ]

    def _lookup(self, body):
        numbers = body.get("mobileNumbers") or body.get("mobileNumber") or []
        if not isinstance(numbers, list) or not numbers or len(numbers) > LOOKUP_LIMIT:
            return json_answer(400, {"errors": [f"between 1 and {LOOKUP_LIMIT} numbers"]})
        keywords = sorted(self.keywords_seen | set(self.short_codes))
        contacts = [
            {
                "mobileNumber": number,
                "shortCode": self.short_codes.get(keyword, ""),
                "keyword": keyword,
                "optInDate": OPT_IN_DATE,
            }
            for number in dict.fromkeys(numbers)
            for keyword in keywords
            if self.state.get((number, keyword))
        ]
        return json_answer(200, {"contacts": contacts})

    def handset_text(self, mobile, text):
        """A text from the handset to the code: SFMC applies it before forwarding it, API
        outage or not."""
        with self._lock:
            self._apply_text([mobile], text)

    def _apply_text(self, numbers, text):
        word = text.split()[0].upper()
        for number in numbers:
            if word in self.stop_words:
                self.confirmations.append((number, word))
                for key in [k for k in self.state if k[0] == number]:
                    self.state[key] = False
            else:
                self.state[(number, word)] = True
                self.keywords_seen.add(word)

    def _queue_mo(self, body):
        numbers = body["mobileNumbers"]
        word = body["messageText"].split()[0].upper()
        if word not in self.stop_words:
            self.short_codes.setdefault(word, body["shortCode"])
        self._apply_text(numbers, body["messageText"])
        return json_answer(
            202,
            {
                "results": [
                    {"identifier": secrets.token_hex(4), "mobileNumber": n, "result": "OK"}
                    for n in numbers
                ]
            },
        )

    def _send(self, body):
        for number in body["mobileNumbers"]:
            if body.get("Subscribe") or body.get("Resubscribe"):
                self.state[(number, body["keyword"].upper())] = True
                self.keywords_seen.add(body["keyword"].upper())
            if body.get("Override"):
                self.texts.append((number, body["messageText"]))
        return json_answer(202, {"tokenId": secrets.token_hex(6)})
