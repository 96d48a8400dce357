"""The consumer preferences page. Thin: parse the form, check the session, call
`preferences` (which calls the services), say what happened, redirect (POST/redirect/GET)."""

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views import i18n
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from subscriptions.common.client import client_address, user_agent
from subscriptions.common.phones import InvalidPhone, national, normalize
from subscriptions.consent import services
from subscriptions.models import ShortCode, Status
from subscriptions.preferences import links, service
from subscriptions.preferences.forms import CodeForm, PhoneForm, StopAllForm, SwitchForm

SIGNED_IN = "preferences_phone"
ASSISTED_BY = "preferences_assisted_by"  # the staff member whose link opened the session
WAITING_FOR_CODE = "preferences_code_phone"


def _signed_in_phone(request):
    return request.session.get(SIGNED_IN)


def _sign_in(request, phone):
    request.session.cycle_key()  # a new session id at every sign-in (no session fixation)
    request.session.pop(WAITING_FOR_CODE, None)
    request.session[SIGNED_IN] = phone
    request.session.pop(ASSISTED_BY, None)
    request.session.set_expiry(service.SESSION_LIFETIME)
    # The language the person reads the page in is the one to text them in from now on.
    services.set_contact_locale(phone, request.LANGUAGE_CODE)


def _visitor(request):
    return service.Visitor(
        phone=_signed_in_phone(request),
        ip_address=client_address(request),
        user_agent=user_agent(request),
        assisted_by=request.session.get(ASSISTED_BY, ""),
    )


@require_http_methods(["GET", "POST"])
def preferences_page(request):
    """Signed in: the page. Otherwise: the phone number form, whose POST asks for a code."""
    if request.method == "POST":
        return _ask_for_code(request)
    phone = _signed_in_phone(request)
    if phone is None:
        return render(request, "preferences/start.html", {"form": PhoneForm()})
    # A notice about one control is shown beside it (its extra_tags name the element).
    general, beside = [], {}
    for message in messages.get_messages(request):
        target = message.extra_tags.split()[0] if message.extra_tags else ""
        (beside.setdefault(target, []) if target else general).append(message)
    groups = service.page_for(phone)
    for group in groups:
        group.notices = beside.pop(f"code-{group.short_code.pk}", [])
        for row in group.programs:
            row.notices = beside.pop(f"program-{row.keyword.pk}", [])
    general += [m for notices in beside.values() for m in notices]  # its control is gone
    return render(
        request,
        "preferences/page.html",
        {
            "phone": phone,
            "phone_display": national(phone),
            "groups": groups,
            "general_notices": general,
        },
    )


def _ask_for_code(request):
    form = PhoneForm(request.POST)
    if not form.is_valid():
        return render(request, "preferences/start.html", {"form": form}, status=400)
    phone = form.cleaned_data["phone"]
    try:
        service.request_code(phone, client_address(request), request.LANGUAGE_CODE)
    except service.RateLimited:
        error = _("Too many codes were asked for. Wait a few minutes and try again.")
        return render(request, "preferences/start.html", {"form": form, "error": error}, status=429)
    request.session[WAITING_FOR_CODE] = phone
    return redirect("preferences-code")


@require_http_methods(["GET", "POST"])
def enter_code(request):
    phone = request.session.get(WAITING_FOR_CODE)
    if phone is None:
        return redirect("preferences")
    form = CodeForm(request.POST if request.method == "POST" else None)
    status = 200
    if form.is_valid():
        try:
            if service.check_code(phone, form.cleaned_data["code"]):
                _sign_in(request, phone)
                messages.success(request, _("You are signed in."))
                return redirect("preferences")
            form.add_error("code", _("That code is not right. Check the text and try again."))
            status = 400
        except service.TooManyAttempts:
            request.session.pop(WAITING_FOR_CODE, None)
            error = _("Too many wrong codes. Ask for a new code.")
            return render(
                request,
                "preferences/start.html",
                {"form": PhoneForm(initial={"phone": phone}), "error": error},
                status=429,
            )
    elif request.method == "POST":
        status = 400
    return render(request, "preferences/code.html", {"form": form, "phone": phone}, status=status)


@require_GET
def signed_link(request, signed):
    try:
        phone, issued_by = links.unsign_link(signed)
        phone = normalize(phone)
    except (signing.BadSignature, InvalidPhone):  # SignatureExpired is a BadSignature
        return render(request, "preferences/link_invalid.html", {"form": PhoneForm()}, status=400)
    _sign_in(request, phone)
    request.session[ASSISTED_BY] = issued_by
    return redirect("preferences")


def _require_sign_in(view):
    def wrapped(request, *args, **kwargs):
        if _signed_in_phone(request) is None:
            messages.info(request, _("Your session has ended. Sign in again to make changes."))
            return redirect("preferences")
        return view(request, *args, **kwargs)

    return wrapped


@require_POST
@_require_sign_in
def switch_program(request):
    form = SwitchForm(request.POST)
    if not form.is_valid():
        return render(request, "preferences/bad_request.html", status=400)
    visitor = _visitor(request)
    keyword = service.program_for(visitor.phone, form.cleaned_data["keyword"])
    if keyword is None:
        raise Http404
    title = keyword.display_title
    target = f"program-{keyword.pk}"
    if form.cleaned_data["join"]:
        result = service.join(visitor, keyword)
        if any(e.new_status == Status.PENDING for e in result.changed):
            messages.success(
                request,
                _(
                    "We sent a text to %(phone)s. Reply Y to confirm "
                    "%(program)s: we are waiting for your reply."
                )
                % {"phone": national(visitor.phone), "program": title},
                target,
            )
        elif result.changed:
            messages.success(request, _("You joined %(program)s.") % {"program": title}, target)
        else:
            messages.info(
                request, _("You are already in %(program)s.") % {"program": title}, target
            )
    else:
        if service.leave(visitor, keyword).changed:
            messages.success(
                request,
                _("You left %(program)s. You will get no more texts about it.")
                % {"program": title},
                target,
            )
        else:
            messages.info(request, _("You are not in %(program)s.") % {"program": title}, target)
    return redirect(f"{reverse('preferences')}#{target}")


@require_POST
@_require_sign_in
def stop_all(request):
    form = StopAllForm(request.POST)
    if not form.is_valid():
        return render(request, "preferences/bad_request.html", status=400)
    visitor = _visitor(request)
    short_code = service.short_code_of(visitor.phone, form.cleaned_data["short_code"])
    if short_code is None:
        raise Http404
    service.stop_all(visitor, short_code)
    messages.success(
        request,
        _("Done: %(brand)s will send no more texts from %(code)s to %(phone)s.")
        % {"brand": short_code.brand, "code": short_code.code, "phone": national(visitor.phone)},
        f"code-{short_code.pk}",
    )
    return redirect(f"{reverse('preferences')}#code-{short_code.pk}")


@require_POST
def sign_out(request):
    request.session.flush()
    messages.success(request, _("You are signed out."))
    return redirect("preferences")


@require_POST
def set_language(request):
    """Django's set_language, and for a signed-in person the language saved to the contact:
    the texts the portal sends them (codes, replies) follow it."""
    response = i18n.set_language(request)
    phone = _signed_in_phone(request)
    language = request.POST.get("language")
    if phone and language in dict(settings.LANGUAGES):
        services.set_contact_locale(phone, language)
    return response


@require_GET
def brand_css(request):
    """Each short code's brand colour as a style sheet (no inline styles under the CSP);
    only colours that are a checked #rrggbb are written."""
    rules = [
        f"#code-{code.pk} {{ --brand: {colors[0]}; --brand-ink: {colors[1]}; }}"
        for code in ShortCode.objects.exclude(brand_color="").only("pk", "brand_color")
        if (colors := code.brand_colors)
    ]
    response = HttpResponse("\n".join(rules) + "\n", content_type="text/css; charset=utf-8")
    response["Cache-Control"] = "public, max-age=300"
    return response
