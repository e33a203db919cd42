"""One archive of everything an account holds.

It walks every table that has an ``account_id`` column, so a table added later is
covered without a change here (``tests/accountdata`` counts per table). The archive is
read in a session bound to the account: on Postgres, row-level security then
guarantees no other account's row can slip in.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import date, datetime
from typing import IO, Any

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from web4os.accounts.models import Account
from web4os.db import Base, utcnow
from web4os.files.storage import StorageError, get_storage
from web4os.tenancy import AccountId

ARCHIVE_VERSION = 1
# Tables whose rows belong to people, not to the account's work: sign-in sessions.
NOT_ARCHIVED = frozenset({"web_sessions"})


def tenant_tables() -> list[Table]:
    """Every table holding an account's rows, parents before children."""
    return [t for t in Base.metadata.sorted_tables if "account_id" in t.c]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if hasattr(value, "value"):  # enums
        return value.value
    return value


def write_archive(session: Session, account_id: AccountId, out: IO[bytes]) -> dict[str, int]:
    """Write the account's archive (a zip) to ``out``; returns rows per table.

    ``tables/<name>.jsonl`` holds one JSON object per row; ``files/<key>`` the stored
    bytes of each uploaded or made file; ``manifest.json`` the counts and file names.
    """
    account = session.get(Account, account_id)
    assert account is not None
    counts: dict[str, int] = {}
    storage = get_storage()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("tables/accounts.jsonl", json.dumps(
            {c.name: _plain(getattr(account, c.key, None))
             for c in Account.__table__.columns}, ensure_ascii=False) + "\n")
        counts["accounts"] = 1
        missing: list[str] = []
        for table in tenant_tables():
            if table.name in NOT_ARCHIVED:
                continue
            rows = session.execute(select(table).where(table.c.account_id == account_id)
                                   .order_by(*table.primary_key.columns)).mappings()
            n, keys = 0, []
            with zf.open(f"tables/{table.name}.jsonl", "w") as fh:
                for row in rows:
                    fh.write((json.dumps({k: _plain(v) for k, v in row.items()},
                                         ensure_ascii=False) + "\n").encode())
                    n += 1
                    if table.name == "files":
                        keys.append(row["storage_key"])
            counts[table.name] = n
            for key in keys:
                try:
                    zf.writestr(f"files/{key}", storage.get(key))
                except StorageError:
                    missing.append(key)
        zf.writestr("manifest.json", json.dumps({
            "format": "web4os-account-archive", "version": ARCHIVE_VERSION,
            "account_id": int(account_id), "account_name": account.name,
            "exported_at": utcnow().isoformat(), "rows": counts,
            "files_missing_from_storage": missing}, indent=2, ensure_ascii=False))
    return counts


def archive_chunks(session: Session, account_id: AccountId,
                   chunk: int = 1 << 16) -> Iterator[bytes]:
    """The archive as a byte stream, spooled to disk past 32 MB so memory stays bounded."""
    with tempfile.SpooledTemporaryFile(max_size=32 << 20) as spool:
        write_archive(session, account_id, spool)
        spool.seek(0)
        while data := spool.read(chunk):
            yield data


def archive_name(account: Account) -> str:
    return f"web4os-account-{account.id}-{utcnow():%Y%m%d}.zip"


def rows_of(session: Session, account_id: int) -> dict[str, int]:
    """Rows per table for one account (what an archive holds; what deletion removes)."""
    return {t.name: int(session.scalar(select(func.count()).select_from(t)
                                       .where(t.c.account_id == account_id)) or 0)
            for t in tenant_tables()}
