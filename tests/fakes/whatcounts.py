"""Fake WhatCounts api_web: sender-code level SMS subscriptions, plain-text answers."""

from tests.fakes.base import FakeProvider

PATH = "/bin/api_web"


class FakeWhatCounts(FakeProvider):
    def __init__(self, *, realm="acme", password="wc-pass", **kwargs):
        super().__init__(**kwargs)
        self.realm, self.password = realm, password
        self.state = set()  # {(phone, sender_code)} subscribed

    def calls(self):
        """[(command, phone, sender_code)] of every request, in arrival order."""
        return [
            (f.get("c"), f.get("phone"), f.get("sender_code"))
            for f in (r.form for r in self.requests)
        ]

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
            return text("SUCCESS: Adding phone to sender code was successful")
        if form.get("c") == "smsstopsubscribersend":
            if key not in self.state:
                return text("FAILURE: subscription does not exist")
            self.state.discard(key)
            return text("SUCCESS: Stopping message to phone was successful")
        return text("FAILURE: unknown command")


def text(body):
    return 200, {"Content-Type": "text/plain"}, body
