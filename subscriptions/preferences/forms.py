"""Forms of the consumer preferences page. They parse and validate; nothing more."""

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from subscriptions.common.phones import InvalidPhone, normalize
from subscriptions.preferences.service import CODE_DIGITS


class PhoneForm(forms.Form):
    phone = forms.CharField(
        label=_("Your mobile number"),
        max_length=32,
        help_text=_("The number you get our texts on, for example +1 555 555 1212."),
        widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel", "type": "tel"}),
    )

    def clean_phone(self):
        try:
            return normalize(self.cleaned_data["phone"])
        except InvalidPhone:
            raise forms.ValidationError(
                _("Enter a mobile number, with the country code if it is not a US number."),
                code="invalid_phone",
            ) from None


class CodeForm(forms.Form):
    code = forms.RegexField(
        label=_("Code from the text message"),
        regex=rf"^\s*\d{{{CODE_DIGITS}}}\s*$",
        max_length=20,
        error_messages={
            "invalid": format_lazy(
                _("The code is the {digits} digits in the text message."), digits=CODE_DIGITS
            )
        },
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    def clean_code(self):
        return self.cleaned_data["code"].strip()


class SwitchForm(forms.Form):
    """Turn one program on or off."""

    keyword = forms.IntegerField(min_value=1)
    join = forms.BooleanField(required=False)


class StopAllForm(forms.Form):
    short_code = forms.IntegerField(min_value=1)
