"""What an API token may do follows its user's Django permissions."""

from rest_framework.permissions import BasePermission, DjangoModelPermissions

CHANGE_CONSENT = "subscriptions.change_consent"
SUBMIT_INBOUND = "subscriptions.submit_inbound"
IMPORT_SUBSCRIPTIONS = "subscriptions.import_subscriptions"
EXPORT_EVIDENCE = "subscriptions.export_evidence"


def requires(*perms):
    """A DRF permission class that admits authenticated users holding every perm in `perms`."""

    class Requires(BasePermission):
        message = f"Your token lacks the permission: {', '.join(perms)}."

        def has_permission(self, request, view):
            user = request.user
            return bool(user and user.is_authenticated and user.has_perms(perms))

    Requires.__name__ = "Requires_" + "_".join(p.split(".")[-1] for p in perms)
    return Requires


class ModelPermissions(DjangoModelPermissions):
    """The queryset model's Django permissions: view to read, add to POST, change to PATCH.

    DRF's own class lets anyone authenticated read; here reading needs the view permission.
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }
    message = "Your token lacks the Django permission for this action on this resource."
