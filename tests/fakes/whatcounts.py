"""Fake WhatCounts api_web: sender-code level SMS subscriptions, texts, plain-text answers."""

from tests.fakes.base import FakeProvider

PATH = "/bin/api_web"
STOP_WORDS = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"}
STOP_MESSAGE = "You are unsubscribed."


class FakeWhatCounts(FakeProvider):
    """`state` the (phone, sender code) subscriptions; `stopped` the ones WhatCounts
    stopped (it texts those nothing more: smssendmessagetophone answers FAILURE);
    `texts` what it texted, [(phone, sender code, text)], its own stop messages included
    (`confirmations` lists those alone)."""

    def __init__(self, *, realm="acme", password="wc-pass", **kwargs):
        super().__init__(**kwargs)
        self.realm, self.password = realm, password
        self.state = set()  # {(phone, sender_code)} subscribed
        self.stopped = set()
        self.texts = []
        self.confirmations = []

    def calls(self):
        """[(command, phone, sender_code)] of every request, in arrival order."""
        return [
            (f.get("c"), f.get("phone"), f.get("sender_code"))
            for f in (r.form for r in self.requests)
        ]

    def handset_text(self, phone, text, sender_code=None):
        """A handset's stop word to a sender code (None: every one it is on): WhatCounts
        stops the number there and texts its stop message before forwarding the text."""
        with self._lock:
            if text.split()[0].upper() not in STOP_WORDS:
                return
            codes = [sender_code] if sender_code else [c for p, c in self.state if p == phone]
            for code in codes:
                self._stop((phone, code))

    def _stop(self, key):
        self.state.discard(key)
        self.stopped.add(key)
        self.texts.append((*key, STOP_MESSAGE))
        self.confirmations.append(key)

    def respond(self, request):
        if request.path != PATH:
            return 404, {}, "not found"
        form = request.form
        if (form.get("r"), form.get("p")) != (self.realm, self.password):
            return text("FAILURE: Invalid realm or password")
        if form.get("c") == "getrealmsettings":  # read-only
            return text("realm_id use_customer_key enable_relational_database 1 N Y")
        key = (form.get("phone"), form.get("sender_code"))
        if not all(key) or not key[0].isdigit():
            return text("FAILURE: bad argument")
        if form.get("c") == "addphonetosendercode":
            if key in self.state:
                return text("FAILURE: subscription exists")
            self.state.add(key)
            self.stopped.discard(key)
            return text("SUCCESS: Adding phone to sender code was successful")
        if form.get("c") == "smsstopsubscribersend":
            if key not in self.state:
                return text("FAILURE: subscription does not exist")
            self._stop(key)
            return text("SUCCESS: Stopping message to phone was successful")
        if form.get("c") == "smssendmessagetophone":
            return self._send(key, form.get("message_text", ""))
        return text("FAILURE: unknown command")

    def _send(self, key, message_text):
        if not message_text:
            return text("FAILURE: message_text is required")
        if key in self.stopped:
            return text("FAILURE: phone has opted out of this sender code")
        self.texts.append((*key, message_text))
        return text("SUCCESS: Sending message to phone was successful")


def text(body):
    return 200, {"Content-Type": "text/plain"}, body
