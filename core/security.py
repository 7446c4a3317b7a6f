"""Password hashing (argon2id) and encryption of CRM secrets at rest (Fernet, with key rotation)."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

_hasher = PasswordHasher()
# Verified against when the email is unknown, so a login takes as long whether or not the account exists.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


MIN_PASSWORD_LENGTH = 10
_COMMON_PASSWORDS = Path(__file__).parent / "data" / "common_passwords.txt"
_TRAILING_NOISE = re.compile(r"[\d\W_]+$")


@cache
def _common_passwords() -> frozenset[str]:
    lines = _COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def weak_password_reason(password: str, email: str = "") -> str | None:
    """Why a new password is too easy to guess, in words for the person choosing it; None if it will do.

    A short list shipped with the app (``core/data/common_passwords.txt``) rather than a breach-lookup service: a
    sign-up must not send anything about a password to a third party, nor fail when that service is down.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Password must be at least {MIN_PASSWORD_LENGTH} characters."
    lowered = password.lower()
    common = _common_passwords()
    if lowered in common or _TRAILING_NOISE.sub("", lowered) in common or len(set(lowered)) < 4:
        return "That password is one of the most commonly used. Please choose one that is harder to guess."
    local_part = email.lower().partition("@")[0]
    if lowered in {email.lower(), local_part}:
        return "Your password can't be your email address."
    return None


class SecretBox:
    """Encrypts CRM API keys before they reach PostgreSQL; the keys never live in the database."""

    def __init__(self, keys: tuple[str, ...]) -> None:
        if not keys:
            raise ValueError("at least one encryption key is required")
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])

    def encrypt(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken as exc:
            raise ValueError("stored secret cannot be decrypted with the configured keys") from exc
