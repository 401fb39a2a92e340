"""Event ids as the public sees them: opaque, so that they count nothing.

The events table's ids count every event (each order, each status change): a visitor on the
public menu stream could read the day's business from the gaps between ids. A caller who is not
signed in gets each id encrypted instead: AES-128 on one 16-byte block (a fixed tag and the id),
which is a keyed pseudo-random permutation: two ids tell nothing of each other or of their order.
Only the server maps one back, so a reconnecting client still resumes exactly where it left off;
a value the server did not make decrypts to a block without the tag (a 400 at the caller).

The key is derived with HKDF from the app's one secret (`FORKFLOW_SECRET_KEY`, else the random
one kept in the database), under a label of its own: every worker and restart agrees, setting or
rotating that secret rotates this key with it, and the key reveals nothing of the secret.
"""

from __future__ import annotations

import re

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .numbers import MAX_ID

_LABEL = b"forkflow public event ids v1"
_TAG = b"ff-event"  # the block's first 8 bytes; the id is the other 8, big-endian
_OPAQUE = re.compile("[0-9a-f]{32}")


class PublicIds:
    """Turns event ids into 32 hex characters and back, under one key."""

    def __init__(self, secret: str) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=16, salt=None, info=_LABEL).derive(secret.encode())
        # ECB on exactly one block is the block cipher itself, used as a permutation of 128-bit blocks.
        self._cipher = Cipher(algorithms.AES(key), modes.ECB())

    def hide(self, event_id: int) -> str:
        encryptor = self._cipher.encryptor()
        return (encryptor.update(_TAG + event_id.to_bytes(8, "big")) + encryptor.finalize()).hex()

    def reveal(self, opaque: str) -> int | None:
        """The event id `opaque` stands for; None when it is not one this server made."""
        if not _OPAQUE.fullmatch(opaque):
            return None
        decryptor = self._cipher.decryptor()
        block = decryptor.update(bytes.fromhex(opaque)) + decryptor.finalize()
        if block[:8] != _TAG:
            return None
        event_id = int.from_bytes(block[8:], "big")
        return event_id if event_id <= MAX_ID else None
