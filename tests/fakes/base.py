"""The scriptable, recording HTTP server every fake provider is built on."""

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    query: dict
    headers: dict
    body: bytes
    received_at: float = field(default_factory=time.monotonic)

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    @property
    def json(self):
        return json.loads(self.body or b"null")

    @property
    def form(self):
        """Form fields (or query string fields for a GET), one value each."""
        source = self.text if self.method != "GET" else ""
        fields = {**self.query, **parse_qs(source, keep_blank_values=True)}
        return {name: values[0] for name, values in fields.items()}


@dataclass
class Fault:
    status: int = 500
    body: str = "fake failure"
    headers: dict = field(default_factory=dict)
    hang_seconds: float = 0.0
    held: bool = False  # taken, connection dropped unanswered, applied on `release()`
    passes: bool = False  # not a fault: answered normally (`fail(after=n)` queues n of them)


class FakeProvider:
    """Subclasses implement `respond(request) -> (status, headers, body)`."""

    def __init__(self, *, delay=0.0, port=0):
        self.requests = []
        self.delay = delay
        self.fault_paths = None  # None = faults apply to every path
        self._faults = deque()
        self._held = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self):
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()

    # Scripting ---------------------------------------------------------------------------

    def fail(self, times=1, status=500, body="fake failure", headers=None, after=0):
        """Answer `times` requests with `status`, after `after` more answered normally (a
        fault mid-run)."""
        with self._lock:
            self._faults.extend(Fault(passes=True) for _ in range(after))
            self._faults.extend(Fault(status, body, headers or {}) for _ in range(times))

    def hang(self, times=1, seconds=2.0):
        """Answer the next `times` requests only after `seconds` (a client timeout)."""
        with self._lock:
            self._faults.extend(Fault(504, "too late", {}, seconds) for _ in range(times))

    def hold(self, times=1):
        """Take the next `times` requests but drop their connections unanswered: the client
        cannot tell whether they were applied. `release()` applies them, late."""
        with self._lock:
            self._faults.extend(Fault(held=True) for _ in range(times))

    def release(self):
        """Apply the held requests now, in the order they came."""
        with self._lock:
            held, self._held = self._held, []
            for request in held:
                self.respond(request)
        return len(held)

    def recover(self):
        with self._lock:
            self._faults.clear()

    def wait_for(self, count, timeout=10.0):
        """Block until `count` requests arrived; returns them."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.requests) >= count, timeout):
                raise TimeoutError(f"{len(self.requests)} requests arrived, wanted {count}")
            return list(self.requests)

    def paths(self):
        return [r.path for r in self.requests]

    # Serving -----------------------------------------------------------------------------

    def respond(self, request):
        raise NotImplementedError

    def _answer(self, request):
        with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()
            applies = self.fault_paths is None or request.path in self.fault_paths
            fault = self._faults.popleft() if self._faults and applies else None
            if fault is not None and fault.passes:
                fault = None
        if fault is not None and fault.held:
            with self._lock:
                self._held.append(request)
            return None  # no answer: the handler drops the connection
        if fault is not None:
            time.sleep(fault.hang_seconds or self.delay)
            return fault.status, fault.headers, fault.body
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            return self.respond(request)

    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stall per answer

            def _serve(self):
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                request = Recorded(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=self.rfile.read(length) if length else b"",
                )
                answer = fake._answer(request)
                if answer is None:
                    self.close_connection = True
                    return
                status, headers, body = answer
                payload = body if isinstance(body, bytes) else str(body).encode()
                try:
                    self.send_response(status)
                    for name, value in {"Content-Length": str(len(payload)), **headers}.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout) or was killed: that is the point

            do_GET = do_POST = _serve

            def log_message(self, format, *args):  # keep test output quiet
                pass

        return Handler


def json_answer(status, payload, headers=None):
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(payload)
