"""What a provider account of each kind is configured with: its settings (stored in the
clear) and its secrets (encrypted, write-only). Each kind declares its own in
`providers/<kind>/settings.py`; the model's `clean`, the admin form and the API serializer
all read the same declaration, so they accept and refuse the same things.

This module and the kinds' declarations import nothing else of the portal: models import
them (providers/kinds.py is the registry).
"""

from dataclasses import dataclass, field
from urllib.parse import urlsplit

MAX_VALUE_CHARS = 500


@dataclass(frozen=True)
class Setting:
    name: str
    label: str
    help_text: str = ""
    kind: str = "text"  # text | url | seconds
    required: bool = False

    def check(self, value, *, active: bool = True) -> str | None:
        """Why `value` is not acceptable for this setting, or None. A required setting may
        be missing while the account is inactive (disabling must never be refused)."""
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            return f"{self.label} must be a string."
        text = str(value).strip()
        if len(text) > MAX_VALUE_CHARS:
            return f"{self.label} is at most {MAX_VALUE_CHARS} characters."
        if not text:
            if self.required and active:
                return f"{self.label} is required for an active account."
            return None
        if self.kind == "url":
            parts = urlsplit(text)
            if parts.scheme not in ("https", "http") or not parts.hostname:
                return f"{self.label} must be an http(s) URL, e.g. https://example.com/."
        if self.kind == "seconds":
            try:
                seconds = float(text)
            except ValueError:
                return f"{self.label} must be a number of seconds."
            if not 0.1 <= seconds <= 120:
                return f"{self.label} must be between 0.1 and 120 seconds."
        return None


@dataclass(frozen=True)
class Secret:
    name: str
    label: str
    help_text: str = ""


# Every kind that calls an HTTP API may tune its timeouts (providers/base.py HttpAdapter).
TIMEOUTS = (
    Setting(
        "connect_timeout",
        "Connect timeout",
        "Seconds to wait for a connection (default 5).",
        kind="seconds",
    ),
    Setting(
        "read_timeout",
        "Read timeout",
        "Seconds to wait for an answer (default 15). A timed-out change counts as unknown.",
        kind="seconds",
    ),
)


@dataclass(frozen=True)
class KindSettings:
    settings: tuple[Setting, ...] = ()
    secrets: tuple[Secret, ...] = ()
    # The path the provider posts status changes to, with {token}; None without postbacks.
    postback_path: str | None = None
    extra: dict = field(default_factory=dict)

    @property
    def setting_names(self) -> list[str]:
        return [s.name for s in self.settings]

    @property
    def secret_names(self) -> list[str]:
        return [s.name for s in self.secrets]

    def settings_errors(self, values, *, active: bool = True) -> list[str]:
        if not isinstance(values, dict):
            return ["Settings must be an object of names and values."]
        known = {s.name: s for s in self.settings}
        unknown = sorted(set(values) - set(known))
        errors = []
        if unknown:
            errors.append(
                f"Not used by this kind: {', '.join(unknown)}. "
                f"Allowed: {', '.join(known) or 'none'}."
            )
        for name, setting in known.items():
            problem = setting.check(values.get(name, ""), active=active)
            if problem:
                errors.append(problem)
        return errors

    def secrets_errors(self, values: dict) -> list[str]:
        unknown = sorted(set(values) - set(self.secret_names))
        if not unknown:
            return []
        return [
            f"Not used by this kind: {', '.join(unknown)}. "
            f"Allowed: {', '.join(self.secret_names) or 'none'}."
        ]
