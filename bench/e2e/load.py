"""Client traffic for the fault run: steady API opt-ins/opt-outs and MO texts, SkyCore
postbacks (each delivered twice, some out of order) and a storm of concurrent toggles.

Clients behave like the real ones: a 5xx or a refused connection is retried (the same
Idempotency-Key, MO message id or postback body, as SkyCore and integrations do), so an
opt-out is "acknowledged" once the portal answered it with a 2xx. Every attempt and every
acknowledged opt-out is written to the Ledger, which the checks compare with the portal's
history afterwards.
"""

import http.client
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

RETRY_DELAY_S = 0.5
MAX_TRIES = 60  # 30 s of retries: longer than the database restart
REQUEST_TIMEOUT_S = 30
EASTERN_DAYLIGHT = timezone(timedelta(hours=-4))  # SkyCore stamps local time with an offset


@dataclass(frozen=True)
class Attempt:
    kind: str
    started: float  # wall clock, comparable with the portal's timestamps
    ended: float
    status: int | None  # None: no HTTP answer at all
    error: str = ""


@dataclass(frozen=True)
class OptOut:
    """An opt-out the portal acknowledged: the history must hold it."""

    source: str
    phone: str
    code: str
    word: str | None
    sent: float
    answered: float
    external_id: str = ""
    occurred_at: datetime | None = None


@dataclass
class Ledger:
    attempts: list = field(default_factory=list)
    opt_outs: list = field(default_factory=list)
    requests: dict = field(default_factory=dict)  # kind -> acknowledged requests
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def attempt(self, attempt):
        with self._lock:
            self.attempts.append(attempt)

    def acknowledged(self, kind, opt_out=None):
        with self._lock:
            self.requests[kind] = self.requests.get(kind, 0) + 1
            if opt_out is not None:
                self.opt_outs.append(opt_out)


class PortalClient:
    def __init__(self, port, token, postback_token, ledger, mo_provider):
        self.port, self.ledger = port, ledger
        self.mo_provider = mo_provider  # the fake that runs the MO program's code
        self.api_headers = {"Content-Type": "application/json", "Authorization": f"Token {token}"}
        self.postback_path = f"/webhooks/skycore/{postback_token}/"

    def _once(self, method, path, body, headers):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT_S)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            payload = response.read()
            return response.status, payload
        finally:
            conn.close()

    def send(self, kind, path, body, headers):
        """POST until the portal answers below 500; (status, JSON answer, first send time)."""
        first = time.time()
        for _ in range(MAX_TRIES):
            started = time.time()
            try:
                status, payload = self._once("POST", path, body, headers)
                error = ""
            except OSError as exc:
                status, payload, error = None, b"", f"{type(exc).__name__}: {exc}"
            self.ledger.attempt(Attempt(kind, started, time.time(), status, error))
            if status is not None and status < 500:
                return status, _json(payload), first
            time.sleep(RETRY_DELAY_S)
        return None, None, first

    def _api(self, kind, path, payload):
        headers = {**self.api_headers, "Idempotency-Key": uuid.uuid4().hex}
        return self.send(kind, path, json.dumps(payload).encode(), headers)

    def opt_in(self, phone, program):
        self._api(
            "api_opt_in",
            "/api/v1/opt-ins/",
            {
                "phone": phone,
                "short_code": program["code"],
                "keyword": program["word"],
                "consent_text": "Yes, text me (fault run).",
            },
        )
        # 201/200/409 are all answers the rules allow (409: refused or stale): nothing to
        # track beyond the attempt itself.
        self.ledger.acknowledged("api_opt_in")

    def opt_out(self, phone, program):
        status, _answer, sent = self._api(
            "api_opt_out",
            "/api/v1/opt-outs/",
            {"phone": phone, "short_code": program["code"], "keyword": program["word"]},
        )
        if status == 200:
            self.ledger.acknowledged(
                "api_opt_out",
                OptOut("api", phone, program["code"], program["word"], sent, time.time()),
            )

    def mo(self, phone, program, text):
        if text.upper() == "STOP":  # the provider honours a stop word before forwarding it
            self.mo_provider.handset_text(phone.lstrip("+"), text)
        message_id = uuid.uuid4().hex
        status, answer, sent = self._api(
            "mo",
            "/api/v1/inbound/",
            {"from": phone, "to": program["code"], "text": text, "message_id": message_id},
        )
        stopped = status == 200 and answer.get("action") == "stop_all"
        self.ledger.acknowledged(
            "mo",
            OptOut(
                "mo",
                phone,
                program["code"],
                None,
                sent,
                time.time(),
                external_id=f"{program['code']}:{message_id}",
            )
            if stopped
            else None,
        )

    def postback(self, postback):
        status, _answer, sent = self.send(
            "postback", self.postback_path, postback.xml(), {"Content-Type": "text/xml"}
        )
        unsubscribed = status == 200 and postback.code == "N302"
        self.ledger.acknowledged(
            "postback",
            OptOut(
                "postback",
                postback.phone,
                postback.short_code,
                postback.word,
                sent,
                time.time(),
                occurred_at=postback.occurred_at,
            )
            if unsubscribed
            else None,
        )


def _json(payload):
    try:
        return json.loads(payload or b"null") or {}
    except ValueError:
        return {}


# Steady load ---------------------------------------------------------------------------------


def steady_load(client, phones, programs, mo_program, stop, seed, pause):
    """One client thread's loop until `stop`: a weighted mix of consent changes."""
    rng = random.Random(seed)
    actions = [
        (35, lambda phone: client.opt_in(phone, rng.choice(programs))),
        (25, lambda phone: client.opt_out(phone, rng.choice(programs))),
        (15, lambda phone: client.mo(phone, mo_program, mo_program["word"].lower())),
        (15, lambda phone: client.mo(phone, mo_program, "STOP")),
        (5, lambda phone: client.mo(phone, mo_program, "START")),
        (5, lambda phone: client.mo(phone, mo_program, "HELP")),
    ]
    weights = [weight for weight, _ in actions]
    while not stop.is_set():
        action = rng.choices([act for _, act in actions], weights)[0]
        action(rng.choice(phones))
        stop.wait(pause)


def toggle_storm(client, phone, program, count):
    """`count` simultaneous opt-ins and opt-outs of one subscription, released together."""
    barrier = threading.Barrier(count)

    def toggle(n):
        barrier.wait()
        (client.opt_in if n % 2 == 0 else client.opt_out)(phone, program)

    threads = [threading.Thread(target=toggle, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# Postbacks -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Postback:
    code: str  # N301 subscribed, N302 unsubscribed
    phone: str
    short_code: str
    word: str
    campaign_ref: str
    occurred_at: datetime

    def xml(self):
        stamp = self.occurred_at.astimezone(EASTERN_DAYLIGHT).isoformat(timespec="seconds")
        return (
            f"<?xml version='1.0'?>\n<POSTBACK><ORIGIN>SUB</ORIGIN><CODE>{self.code}</CODE>"
            f"<MOBILE>{self.phone.lstrip('+')}</MOBILE>"
            f"<CAMPAIGNREF>{self.campaign_ref}</CAMPAIGNREF><TIMESTAMP>{stamp}</TIMESTAMP>"
            f"<SHORTCODE>{self.short_code}</SHORTCODE><CAMPAIGNTITLE>Save</CAMPAIGNTITLE>"
            f"<BRANDNAME>E2E</BRANDNAME><SOURCE>MO</SOURCE></POSTBACK>"
        ).encode()


@dataclass
class PostbackPlan:
    deliveries: list  # in sending order
    final: dict  # phone -> subscribed at SkyCore after its newest notification?
    out_of_order_phones: int


def plan_postbacks(phones, program, seed):
    """1-3 notifications per number, alternating subscribed/unsubscribed, an hour or less
    ago. Every notification is delivered twice (SkyCore retries); for a third of the
    numbers they arrive newest first. The numbers' deliveries are interleaved at random."""
    rng = random.Random(seed)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    per_phone, final, reversed_count = [], {}, 0
    for i, phone in enumerate(phones):
        first_code = rng.choice(["N301", "N302"])
        codes = [first_code if k % 2 == 0 else _other(first_code) for k in range(rng.randint(1, 3))]
        notes = [
            Postback(
                code,
                phone,
                program["code"],
                program["word"],
                program["ref"],
                start + timedelta(minutes=5 * k, seconds=i),
            )
            for k, code in enumerate(codes)
        ]
        final[phone] = codes[-1] == "N301"
        if len(notes) > 1 and i % 3 == 0:
            notes.reverse()
            reversed_count += 1
        per_phone.append([note for note in notes for _copy in range(2)])
    return PostbackPlan(_interleave(per_phone, rng), final, reversed_count)


def _other(code):
    return "N302" if code == "N301" else "N301"


def _interleave(queues, rng):
    """Merge the lists at random, keeping each list's own order."""
    queues = [list(q) for q in queues]
    merged = []
    while queues:
        queue = rng.choice(queues)
        merged.append(queue.pop(0))
        if not queue:
            queues.remove(queue)
    return merged


def deliver_postbacks(client, plan, pause):
    """A sender for threads sharing one iterator over the planned deliveries. Senders run
    until every delivery is made (never stopped early): the expected final state is that
    of the whole plan."""
    lock = threading.Lock()
    pending = iter(plan.deliveries)

    def sender():
        while True:
            with lock:
                postback = next(pending, None)
            if postback is None:
                return
            client.postback(postback)
            time.sleep(pause)

    return sender
