"""Password hashing with the standard library's scrypt (memory-hard, no extra dependency), and the
bundled list of common passwords that no account may use.

The cost is OWASP's Password Storage Cheat Sheet minimum for scrypt: N=2^17, r=8, p=1 (128 MiB of
memory per hash). Each stored hash carries its own parameters, so a hash made at an older, lower cost
still verifies, and `needs_rehash` says when to replace it (on the next successful sign-in).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from importlib import resources

from ..config import MAX_PASSWORD_HASH_COST, PASSWORD_HASH_COST

R, P = 8, 1


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # scrypt needs 128 * N * r bytes; leave headroom, since OpenSSL counts a little more.
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=2 * 128 * n * r * p + 2**20)


def hash_password(password: str, cost: int = PASSWORD_HASH_COST) -> str:
    salt = secrets.token_bytes(16)
    n = 2**cost
    return f"scrypt${n}${R}${P}${_b64(salt)}${_b64(_scrypt(password, salt, n, R, P))}"


def _parameters(stored: str) -> tuple[int, int, int]:
    scheme, n, r, p, _salt, _digest = stored.split("$")
    if scheme != "scrypt":
        raise ValueError("not an scrypt hash")
    return int(n), int(r), int(p)


def verify_password(password: str, stored: str) -> bool:
    try:
        n, r, p = _parameters(stored)
        if n > 2**MAX_PASSWORD_HASH_COST or r != R or p != P:
            return False
        salt, digest = stored.split("$")[4:]
        actual = _scrypt(password, base64.b64decode(salt), n, r, p)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, base64.b64decode(digest))


def needs_rehash(stored: str, cost: int = PASSWORD_HASH_COST) -> bool:
    """A hash made with weaker parameters than today's: replace it once the password is known."""
    try:
        n, r, p = _parameters(stored)
    except ValueError:
        return True
    return n < 2**cost or r < R or p < P


@functools.cache
def dummy_hash(cost: int = PASSWORD_HASH_COST) -> str:
    """Checked against when the account does not exist, so a wrong name costs as long as a wrong
    password (made once per cost, on first use)."""
    return hash_password(secrets.token_urlsafe(16), cost)


@functools.cache
def _common() -> frozenset[str]:
    text = resources.files(__package__).joinpath("common-passwords.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def is_common(password: str) -> bool:
    """In the bundled list of the 10,000 most common passwords (compared in lower case)."""
    return password.lower() in _common()
