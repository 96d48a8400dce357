"""Drop the per-process caches of `subscriptions.common.memo` when what they hold changes:
tokens, users, groups and permissions (namespace AUTH: a cached token carries its user and
the user's permission sets), short codes, keywords and provider accounts (CATALOG), webhook
endpoints (WEBHOOKS; the worker's QuerySet.update that disables one invalidates itself).
Imported by the app's ready()."""

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db.models.signals import m2m_changed, post_delete, post_save
from rest_framework.authtoken.models import Token

from subscriptions.common import memo
from subscriptions.models import Keyword, ProviderAccount, ShortCode, WebhookEndpoint


def _auth_changed(**kwargs):
    memo.invalidate(memo.AUTH)


def _catalog_changed(**kwargs):
    memo.invalidate(memo.CATALOG)


def _webhooks_changed(**kwargs):
    memo.invalidate(memo.WEBHOOKS)


User = get_user_model()

for model in (Token, User, Group, Permission):
    post_save.connect(_auth_changed, sender=model, dispatch_uid=f"memo-auth-save-{model.__name__}")
    post_delete.connect(
        _auth_changed, sender=model, dispatch_uid=f"memo-auth-delete-{model.__name__}"
    )
for through in (User.groups.through, User.user_permissions.through, Group.permissions.through):
    m2m_changed.connect(_auth_changed, sender=through, dispatch_uid=f"memo-auth-m2m-{through}")

for model in (ShortCode, Keyword, ProviderAccount):
    post_save.connect(
        _catalog_changed, sender=model, dispatch_uid=f"memo-catalog-save-{model.__name__}"
    )
    post_delete.connect(
        _catalog_changed, sender=model, dispatch_uid=f"memo-catalog-delete-{model.__name__}"
    )

post_save.connect(_webhooks_changed, sender=WebhookEndpoint, dispatch_uid="memo-webhooks-save")
post_delete.connect(_webhooks_changed, sender=WebhookEndpoint, dispatch_uid="memo-webhooks-delete")
