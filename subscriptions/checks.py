"""Deployment checks of the portal's own settings (`manage.py check --deploy`)."""

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import DatabaseError

from subscriptions.common import dbroles


@register(Tags.security, deploy=True)
def encryption_keys(app_configs, **kwargs):
    keys = settings.PORTAL_ENCRYPTION_KEYS
    if not keys:
        return [
            Warning(
                "PORTAL_ENCRYPTION_KEY is not set: provider secrets are encrypted with a key "
                "derived from SECRET_KEY, so rotating SECRET_KEY would make them unreadable.",
                hint="Set PORTAL_ENCRYPTION_KEY to a Fernet key (Fernet.generate_key()).",
                id="subscriptions.W001",
            )
        ]
    problems = []
    for index, key in enumerate(keys):
        try:
            Fernet(key)
        except ValueError:
            problems.append(
                Warning(
                    f"PORTAL_ENCRYPTION_KEY entry {index + 1} is not a valid Fernet key.",
                    id="subscriptions.W002",
                )
            )
    return problems


@register(Tags.security, deploy=True)
def history_role(app_configs, databases=None, **kwargs):
    """The application's database role must not own (or be able to rewrite) the history."""
    try:
        problems = dbroles.history_privilege_problems()
    except DatabaseError:
        return []  # no database to ask (a build step): nothing to say
    if not problems:
        return []
    return [
        Warning(
            f"The application's database role {', '.join(problems)}: the append-only "
            "consent history can be rewritten through it.",
            hint="Run migrations as an owner role and the portal as an application role "
            "with INSERT and SELECT only on the history (deploy/README.md, "
            "manage.py grant_app_role).",
            id="subscriptions.W010",
        )
    ]


@register()
def revoke_all_scope(app_configs, **kwargs):
    scope = getattr(settings, "PORTAL_REVOKE_ALL_SCOPE", "code")
    if scope in ("code", "brand"):
        return []
    return [
        Error(
            f"PORTAL_REVOKE_ALL_SCOPE is {scope!r}; it must be 'code' or 'brand'.",
            id="subscriptions.E001",
        )
    ]
