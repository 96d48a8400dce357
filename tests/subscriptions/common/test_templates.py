"""Reply templates: refused when they cannot render or would render huge; rendering never
raises (common/templates.py)."""

import pytest
from django.core.exceptions import ValidationError

from subscriptions.common.templates import (
    MAX_REPLY_CHARS,
    render_reply,
    validate_reply_template,
)
from subscriptions.models import ShortCode

VALUES = {"brand": "Acme", "program": "Deals", "code": "12345"}


@pytest.mark.parametrize(
    "template",
    [field.default for field in ShortCode._meta.fields if field.name.endswith(("_text", "prompt"))],
)
def test_the_defaults_are_valid(template):
    validate_reply_template(template)


@pytest.mark.parametrize(
    ("template", "code"),
    [
        ("{brand}: {nope}", "unknown_placeholder"),
        ("{0} joined", "unknown_placeholder"),
        ("{brand.__class__}", "unknown_placeholder"),
        ("{brand[0]}", "unknown_placeholder"),
        ("{brand:>20000000}", "template_too_wide"),
        ("{program:^1601}", "template_too_wide"),
        ("{brand!r}", "invalid_template"),
        ("{brand:{code}}", "invalid_template"),
        ("{brand", "invalid_template"),
        ("brand}", "invalid_template"),
        ("x" * 1001, "template_too_long"),
        ("{program:>1500}{brand:>200}", "template_too_long"),
    ],
)
def test_bad_templates_are_refused_with_a_reason(template, code):
    with pytest.raises(ValidationError) as refused:
        validate_reply_template(template)
    assert refused.value.code == code
    assert refused.value.messages[0]  # a sentence for staff, not a traceback


def test_a_moderate_width_is_fine():
    validate_reply_template("{brand:<20}| reply STOP to cancel")
    assert len(render_reply("{brand:<20}|", "{brand}", VALUES)) == 21


@pytest.mark.parametrize("stored", ["{nope}", "{brand:>20000000}", "{brand", "{brand!r}"])
def test_rendering_a_bad_stored_template_falls_back_to_the_default(stored):
    text = render_reply(stored, "{brand}: you are unsubscribed.", VALUES)
    assert text == "Acme: you are unsubscribed."


def test_rendering_never_raises_even_when_the_default_is_bad_too():
    assert render_reply("{nope}", "{also_nope}", VALUES) == "Acme"
    assert (
        len(render_reply("{brand}", "{brand}", {**VALUES, "brand": "B" * 100})) <= MAX_REPLY_CHARS
    )
