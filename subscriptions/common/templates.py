"""Reply templates: the texts a short code sends (HELP, STOP, opt-in, double opt-in prompt).

They are `str.format` templates over three names. A template is checked when it is saved
(`validate_reply_template`, called from the model's `clean`, so the admin, the API and
imports refuse the same things) and rendered with `render_reply`, which never raises: a
template stored before validation existed, or one that breaks at send time, falls back to
the field's default. A reply must never roll back the consent change it confirms.
"""

import logging
import re
import string

from django.core.exceptions import ValidationError

logger = logging.getLogger("subscriptions.templates")

TEMPLATE_NAMES = frozenset({"brand", "program", "code"})
# Ten concatenated SMS segments: the most any carrier delivers as one message.
MAX_REPLY_CHARS = 1600
MAX_TEMPLATE_CHARS = 1000
# Lengths of the longest values a name can take (ShortCode.brand, Keyword.title, code), so
# a template that validates renders within MAX_REPLY_CHARS for every program.
_LONGEST = {"brand": "B" * 100, "program": "P" * 120, "code": "9" * 20}
_SPEC_NUMBER = re.compile(r"\d+")


def _fields(template: str):
    try:
        return [f for f in string.Formatter().parse(template) if f[1] is not None]
    except ValueError as exc:
        raise ValidationError(
            "Not a valid template (%(problem)s). Write names in braces, e.g. {brand}; "
            "a literal brace is {{ or }}.",
            code="invalid_template",
            params={"problem": exc},
        ) from exc


def validate_reply_template(template: str) -> None:
    """Refuse a template that cannot render, names an unknown field, or renders too long."""
    if len(template) > MAX_TEMPLATE_CHARS:
        raise ValidationError(
            "A reply template is at most %(max)d characters.",
            code="template_too_long",
            params={"max": MAX_TEMPLATE_CHARS},
        )
    allowed = ", ".join(f"{{{name}}}" for name in sorted(TEMPLATE_NAMES))
    for _, name, spec, conversion in _fields(template):
        if name not in TEMPLATE_NAMES:
            raise ValidationError(
                "Unknown placeholder {%(name)s}; use %(allowed)s.",
                code="unknown_placeholder",
                params={"name": name, "allowed": allowed},
            )
        # A width such as {brand:>20000000} would make a 20 MB reply: bound it before
        # rendering anything.
        if any(int(n) > MAX_REPLY_CHARS for n in _SPEC_NUMBER.findall(spec or "")):
            raise ValidationError(
                "The format of {%(name)s} asks for more than %(max)d characters.",
                code="template_too_wide",
                params={"name": name, "max": MAX_REPLY_CHARS},
            )
        if conversion or "{" in (spec or ""):
            raise ValidationError(
                "Write {%(name)s} without a conversion or a nested field.",
                code="invalid_template",
                params={"name": name},
            )
    try:
        rendered = template.format_map(_LONGEST)
    except (ValueError, TypeError) as exc:
        raise ValidationError(
            "Not a valid template (%(problem)s).",
            code="invalid_template",
            params={"problem": exc},
        ) from exc
    if len(rendered) > MAX_REPLY_CHARS:
        raise ValidationError(
            "With the longest brand and program this reply is %(length)d characters; "
            "at most %(max)d fit in one message.",
            code="template_too_long",
            params={"length": len(rendered), "max": MAX_REPLY_CHARS},
        )


def render_reply(template: str, fallback: str, values: dict) -> str:
    """The reply text; never raises. A template that does not validate (stored before the
    rule existed) or fails to render gives `fallback` (the field's default), rendered."""
    for candidate in (template, fallback):
        try:
            validate_reply_template(candidate)
            return candidate.format_map(values)
        except (ValidationError, ValueError, TypeError, KeyError) as exc:
            logger.warning("reply template refused at send time (%s); using the default", exc)
    return f"{values.get('brand', '')}".strip() or "OK"
