"""The admin login, throttled (issue 16): sign-in attempts are counted per client address
and per username (common.limits, atomic across processes); past the limit the login answers
429 without checking the password, until the window ends. A successful sign-in clears the
username's count.
"""

import hashlib

from django.contrib import admin
from django.http import HttpResponse
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache

from subscriptions.common import limits
from subscriptions.common.client import client_address

WINDOW = 15 * 60
PER_ADDRESS = 30  # an office behind one address signs in often
PER_USERNAME = 10


def _keys(request):
    address = client_address(request) or "unknown"
    username = (request.POST.get("username") or "").strip().lower()
    user_key = hashlib.sha256(username.encode()).hexdigest()[:40]
    return f"admin-login:ip:{address}", f"admin-login:user:{user_key}"


def _refused():
    response = HttpResponse(
        "Too many sign-in attempts. Wait 15 minutes, then try again.\n",
        status=429,
        content_type="text/plain; charset=utf-8",
    )
    response["Retry-After"] = str(WINDOW)
    return response


@method_decorator(never_cache, name="__call__")
class ThrottledLogin:
    """admin.site.login behind the limits (a callable so urls.py can mount it)."""

    def __call__(self, request, extra_context=None):
        if request.method != "POST":
            return admin.site.login(request, extra_context)
        address_key, user_key = _keys(request)
        over = [
            limits.hit(address_key, WINDOW) > PER_ADDRESS,
            limits.hit(user_key, WINDOW) > PER_USERNAME,
        ]
        if any(over):
            return _refused()
        response = admin.site.login(request, extra_context)
        if request.user.is_authenticated and response.status_code == 302:
            limits.reset(user_key)
        return response


throttled_login = ThrottledLogin()
