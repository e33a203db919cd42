"""Two uploads that each fit the quota alone, sent at the same moment: one is stored, the
other refused (the check runs again under the account's row lock)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.conftest import IS_POSTGRES
from tests.factories import Tenant
from web4os.config import get_settings
from web4os.errors import InvalidInput
from web4os.files import service
from web4os.files.models import StoredFile
from web4os.tenancy import tenant_session

pytestmark = pytest.mark.skipif(not IS_POSTGRES, reason="row locks: the Postgres pass")


def test_racing_uploads_never_pass_the_quota_together(db: Session, tenant: Tenant,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEB4OS_STORAGE_QUOTA_BYTES", "150")
    get_settings.cache_clear()
    db.commit()
    start = threading.Barrier(2)
    outcomes: list[str] = []
    real_check = service.check_size
    first_checks = threading.Barrier(2)
    seen: dict[int, int] = {}

    def check_then_wait(name: str, size: int, session: Session, account_id: object) -> None:
        real_check(name, size, session, account_id)  # type: ignore[arg-type]
        calls = seen[threading.get_ident()] = seen.get(threading.get_ident(), 0) + 1
        if calls == 1:
            first_checks.wait(timeout=10)  # both passed the unlocked check before either stores

    monkeypatch.setattr(service, "check_size", check_then_wait)

    def upload(name: str) -> None:
        start.wait(timeout=10)
        try:
            with tenant_session(tenant.id) as s:
                service.upload(s, tenant.ctx(), name=name, data=b"x" * 100)
            outcomes.append("stored")
        except InvalidInput as exc:
            outcomes.append("refused" if "doesn't fit" in str(exc) else str(exc))

    threads = [threading.Thread(target=upload, args=(f"{n}.txt",)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes) == ["refused", "stored"]
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(StoredFile)) == 1
