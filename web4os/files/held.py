"""A document held between two steps of a form (a playbook between its preview and its
import): one per account and purpose, in the file store under the account's own prefix,
replaced by the next, removed when used (and with the account). Its id is the document's
sha256, so the second step uses exactly what the first showed; another account's id is
not found under this account's prefix."""

from __future__ import annotations

import contextlib
import hashlib

from web4os.errors import InvalidInput, NotFound
from web4os.files.storage import StorageError, get_storage

PURPOSES = ("playbook",)


def held_key(account_id: int, purpose: str) -> str:
    slot = hashlib.sha256(f"web4os held {purpose}".encode()).hexdigest()[:32]
    return f"{int(account_id)}/{slot}"


def keep(account_id: int, purpose: str, data: bytes) -> str:
    """Hold ``data`` for the next step; its id."""
    try:
        get_storage().put(held_key(account_id, purpose), data)
    except (StorageError, OSError) as exc:
        raise InvalidInput("The document could not be kept for the next step; try again.",
                           field="document") from exc
    return hashlib.sha256(data).hexdigest()


def take(account_id: int, purpose: str, held_id: str) -> bytes:
    """The held document, if ``held_id`` is this account's."""
    try:
        data = get_storage().get(held_key(account_id, purpose))
    except (StorageError, OSError, KeyError):
        raise NotFound("No such preview: upload the document again.") from None
    if hashlib.sha256(data).hexdigest() != held_id:
        raise NotFound("No such preview: upload the document again.")
    return data


def drop(account_id: int, purpose: str) -> None:
    with contextlib.suppress(StorageError, OSError):  # else the next one replaces it
        get_storage().delete(held_key(account_id, purpose))
