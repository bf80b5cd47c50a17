"""Edit tokens: the capability to correct one prediction.

Whoever makes a prediction gets a random token (256 bits); the record stores
only its sha256, so reading the database, a backup or the admin never yields a
token. A correction must present the token (or come from an admin).
"""

import hashlib
import hmac
import secrets

TOKEN_BYTES = 32


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def matches(token: str | None, stored_hash: str | None) -> bool:
    """Whether ``token`` is the one whose hash is stored (in constant time)."""
    if not token or not stored_hash:
        return False
    return hmac.compare_digest(token_hash(token), stored_hash)
