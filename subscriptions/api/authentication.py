"""Token authentication answered from a per-process cache (subscriptions.common.memo).

DRF's TokenAuthentication reads the token and its user on every request, and the permission
check reads the user's and its groups' permissions again (two more queries). Here a token
is read once per process with its user, whose permission sets are filled at the same time
(Django's ModelBackend keeps them on the user object), so a request of a known token needs
no query for authentication or permissions. Any change of a token, user, group or
permission drops the cache (memo_signals); other processes follow within memo.CHECK_SECONDS.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from subscriptions.common import memo


def _load(model, key):
    token = model.objects.select_related("user").filter(key=key).first()
    if token is not None and token.user.is_active:
        token.user.get_all_permissions()  # fills the backend's permission caches on the user
    return token


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key):
        model = self.get_model()
        token = memo.lookup(memo.AUTH, ("token", key), lambda: _load(model, key))
        if token is None:
            raise AuthenticationFailed(_("Invalid token."))
        if not token.user.is_active:
            raise AuthenticationFailed(_("User inactive or deleted."))
        return (token.user, token)
