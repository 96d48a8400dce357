"""Who may export consent evidence (`subscriptions.export_evidence`).

Compliance holds the permission through its group (staff_groups.py). Whether Marketing may
too is a deployment's choice, PORTAL_MARKETING_EXPORTS_EVIDENCE (off by default): this
authentication backend grants the permission to active members of the Marketing group while
the setting is on, so `user.has_perm` answers the same in the admin, the API and templates,
and turning the setting off takes the permission back at once (no group edit to undo)."""

from django.conf import settings
from django.contrib.auth.backends import BaseBackend

EXPORT_EVIDENCE = "subscriptions.export_evidence"
MARKETING = "Marketing"


class EvidenceAccessBackend(BaseBackend):
    """Authenticates nobody; only adds the evidence permission described above."""

    def get_group_permissions(self, user_obj, obj=None) -> set[str]:
        if obj is not None or not user_obj.is_active or user_obj.is_anonymous:
            return set()
        if not getattr(settings, "PORTAL_MARKETING_EXPORTS_EVIDENCE", False):
            return set()
        cache_name = "_evidence_access_cache"
        if not hasattr(user_obj, cache_name):
            member = user_obj.groups.filter(name=MARKETING).exists()
            setattr(user_obj, cache_name, {EXPORT_EVIDENCE} if member else set())
        return getattr(user_obj, cache_name)
