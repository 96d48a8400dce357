"""Browser-only middleware, skipped for the machine endpoints.

The JSON API (/api/v1/) and provider webhooks (/webhooks/) serve programs, not browsers:
they have no templates, flash messages, frames or scripts, and answer in the portal's
language. Measured per request (bench/README.md, issue 14), LocaleMiddleware (Accept-Language
negotiation), MessageMiddleware, ContentSecurityPolicyMiddleware and XFrameOptionsMiddleware
cost about 150 us of the stack's 360 us; on those paths these subclasses pass the request
straight on. Everything that protects or identifies a request (security headers and HTTPS,
sessions and authentication for the API's session login, CSRF, request ids, metrics) still
runs on every path.
"""

from django.conf import settings
from django.contrib.messages.middleware import MessageMiddleware
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.csp import ContentSecurityPolicyMiddleware
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

MACHINE_PATHS = ("/api/v1/", "/webhooks/")


def for_machines(request):
    return request.path_info.startswith(MACHINE_PATHS)


class BrowserLocaleMiddleware(LocaleMiddleware):
    def __call__(self, request):
        if for_machines(request):
            # The thread may still have a visitor's language active from its last request.
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = settings.LANGUAGE_CODE
            return self.get_response(request)
        return super().__call__(request)


class BrowserMessageMiddleware(MessageMiddleware):
    def __call__(self, request):
        if for_machines(request):
            return self.get_response(request)
        return super().__call__(request)


class BrowserXFrameOptionsMiddleware(XFrameOptionsMiddleware):
    def __call__(self, request):
        if for_machines(request):
            return self.get_response(request)
        return super().__call__(request)


class BrowserContentSecurityPolicyMiddleware(ContentSecurityPolicyMiddleware):
    def __call__(self, request):
        if for_machines(request):
            return self.get_response(request)
        return super().__call__(request)
