"""The account's time zone: picked on the settings page, checked, shown by the API."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import Tenant, csrf_from, login
from web4os.accounts.models import Account
from web4os.accounts.zones import parse_time_zone, zone_of


def test_names_are_matched_whatever_their_case() -> None:
    assert parse_time_zone(" europe/london ") == "Europe/London"
    assert parse_time_zone("") == "UTC"


def test_a_stored_name_the_database_lost_reads_as_utc() -> None:
    assert zone_of("Mars/Olympus_Mons").key == "UTC"
    assert zone_of("America/New_York").key == "America/New_York"


def test_owner_sets_the_zone_and_a_bad_one_is_refused(
        client: TestClient, db: Session, tenant: Tenant) -> None:
    login(client, tenant.owner)
    page = client.get("/settings").text
    assert 'list="time-zones"' in page and '<option value="Europe/Paris">' in page
    csrf = csrf_from(page)
    resp = client.post("/settings/account", data={"name": "Acme", "time_zone": "Moon/Base",
                                                  "csrf_token": csrf})
    assert resp.status_code == 422 and "Pick a time zone" in resp.text
    assert 'value="Moon/Base"' in resp.text  # the owner's input is kept
    db.rollback()
    account = db.get(Account, tenant.account.id)
    assert account is not None and account.time_zone == "UTC" and account.name != "Acme"
    client.post("/settings/account", data={"name": "Acme", "time_zone": "europe/paris",
                                           "csrf_token": csrf})
    db.rollback()
    db.refresh(account)
    assert account.time_zone == "Europe/Paris"
