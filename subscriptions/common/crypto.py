"""Encryption at rest for provider secrets.

PORTAL_ENCRYPTION_KEY holds one or more Fernet keys, comma separated, newest first: the
first encrypts, all decrypt, so keys can be rotated without downtime. Without it a key is
derived from SECRET_KEY (good enough for a demo, flagged by `check --deploy`).
"""

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


def _fernet():
    keys = list(settings.PORTAL_ENCRYPTION_KEYS)
    if not keys:
        digest = hashlib.sha256(("portal-secrets:" + settings.SECRET_KEY).encode()).digest()
        keys = [base64.urlsafe_b64encode(digest).decode()]
    return MultiFernet([Fernet(key.encode() if isinstance(key, str) else key) for key in keys])


def encrypt_json(value):
    return _fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt_json(token):
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken as exc:
        raise ValueError("Provider secrets cannot be decrypted with the configured keys.") from exc


def rotate(token):
    """Re-encrypt a token with the newest key."""
    return _fernet().rotate(token.encode()).decode() if token else token
