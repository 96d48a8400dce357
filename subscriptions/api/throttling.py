"""Per-token throttling counted in `limits.admit` (Redis when REDIS_URL is set; otherwise
each process counts in memory and adds its hits to one shared database row in batches, so
requests of one token do not queue on that row's lock; the bound on what may pass beyond the
limit is in limits' docstring).

A fixed window with an atomic counter keeps each request at O(1) work, unlike DRF's
built-in throttles that store (and rewrite) the timestamp of every request in the window.
"""

import hashlib
import time

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from subscriptions.common import limits


class TokenRateThrottle(SimpleRateThrottle):
    """`API_THROTTLE_RATE` requests per window per API token (per user for sessions,
    per client address for anonymous callers, who are refused anyway)."""

    scope = "token"

    def get_rate(self):
        # Read at request time (DRF's class attribute is frozen at import), so a changed
        # setting, e.g. in a test, takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        token = getattr(request, "auth", None)
        if token is not None and getattr(token, "key", None):
            ident = "t:" + hashlib.sha256(token.key.encode()).hexdigest()[:32]
        elif request.user and request.user.is_authenticated:
            ident = f"u:{request.user.pk}"
        else:
            ident = "a:" + self.get_ident(request)
        return f"throttle:{self.scope}:{ident}"

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        now = time.time()
        window_start = int(now // self.duration) * self.duration
        self.window_ends = window_start + self.duration
        self.now = now
        # The window's start in the key: windows are the clock's, the same for every token.
        return limits.admit(f"{key}:{window_start}", self.duration, self.num_requests)

    def wait(self):
        return max(1, int(self.window_ends - self.now + 0.999))
