import pytest
from cryptography.fernet import Fernet

from subscriptions.common import crypto
from tests.factories import ProviderAccountFactory

pytestmark = pytest.mark.django_db


def test_secrets_are_stored_encrypted_and_merge_on_update():
    account = ProviderAccountFactory(kind="sfmc")
    account.set_secrets({"client_id": "abc", "client_secret": "s3cr3t"})
    account.save()
    account.refresh_from_db()
    assert "s3cr3t" not in account.secrets_encrypted
    account.set_secrets({"client_secret": "", "client_id": "xyz"})
    assert account.secrets == {"client_id": "xyz", "client_secret": "s3cr3t"}


def test_rotation_keeps_old_tokens_readable(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.PORTAL_ENCRYPTION_KEYS = [old]
    token = crypto.encrypt_json({"api_key": "k"})
    settings.PORTAL_ENCRYPTION_KEYS = [new, old]
    rotated = crypto.rotate(token)
    settings.PORTAL_ENCRYPTION_KEYS = [new]
    assert crypto.decrypt_json(rotated) == {"api_key": "k"}
    with pytest.raises(ValueError, match="cannot be decrypted"):
        crypto.decrypt_json(token)
