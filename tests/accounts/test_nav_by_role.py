"""Navigation follows role and state: every link a member is shown opens for them, a
viewer's "Needs you" does not nag, and a suspended account's buttons are switched off
with the reason on the page."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from tests.factories import Tenant, login, make_card_in_review
from web4os.accounts.models import AccountStatus, Role


def _nav(page: str, label: str = "Main") -> str:
    m = re.search(rf'<nav[^>]*aria-label="{re.escape(label)}"[^>]*>(.*?)</nav>', page, re.S)
    assert m, f"no {label} navigation"
    return m.group(1)


def _links(nav: str) -> list[str]:
    return re.findall(r'href="([^"]+)"', nav)


@pytest.mark.parametrize(("role", "expected"), [
    (Role.OWNER, ["/", "/inbox", "/routines", "/templates", "/agents", "/usage", "/settings"]),
    (Role.OPERATOR, ["/", "/inbox", "/routines", "/templates", "/agents", "/usage"]),
    (Role.VIEWER, ["/", "/inbox", "/routines", "/templates", "/agents", "/usage"]),
])
def test_every_link_in_the_navigation_opens_for_that_role(
        client: TestClient, tenant: Tenant, role: Role, expected: list[str]) -> None:
    login(client, {Role.OWNER: tenant.owner, Role.OPERATOR: tenant.operator,
                   Role.VIEWER: tenant.viewer}[role])
    page = client.get("/").text
    # the bar (wide screens) and the menu (small screens) offer the same links
    assert _links(_nav(page)) == expected
    assert _links(_nav(page, "Main (menu)")) == expected
    for href in expected:
        assert client.get(href).status_code == 200, href
    if role != Role.OWNER:
        assert client.get("/settings").status_code == 403


def test_the_account_and_role_show_in_the_bar_and_the_menu(client: TestClient,
                                                           tenant: Tenant) -> None:
    login(client, tenant.operator)
    page = client.get("/").text
    menu = page.split('<details class="navmenu">', 1)[1].split("</details>", 1)[0]
    for part in (page.split('<span class="who">', 1)[1][:600], menu):
        assert tenant.account.name in part and 'class="role role-operator"' in part


def test_a_viewers_needs_you_does_not_nag(client: TestClient, db: Session,
                                          tenant: Tenant) -> None:
    make_card_in_review(db, tenant, "A draft")
    operator = TestClient(client.app)
    login(operator, tenant.operator)
    assert re.search(r'id="needs-you-count"\s*>1</span>', operator.get("/").text)

    login(client, tenant.viewer)
    page = client.get("/").text
    assert 'id="needs-you-count"' not in page and 'class="count"' not in _nav(page)
    assert "Needs you" in _nav(page)
    inbox = client.get("/inbox")  # what waits is still there to read
    assert inbox.status_code == 200 and "Task a" in inbox.text


def test_a_suspended_accounts_buttons_are_disabled_with_the_reason(
        client: TestClient, db: Session, tenant: Tenant) -> None:
    task = make_card_in_review(db, tenant, "A draft")
    tenant.account.status = AccountStatus.SUSPENDED
    db.commit()
    login(client, tenant.owner)
    for path in ("/", f"/goals/{task.goal_id}/tasks/{task.id}"):
        page = client.get(path).text
        main = page.split('<main id="main"', 1)[1]
        assert '<fieldset class="locked" disabled aria-describedby="suspended-reason">' in main
        assert 'id="suspended-reason"' in page and "suspended" in page
    home = client.get("/").text.split('<fieldset class="locked"', 1)[1]
    assert "Plan it" in home
    card = client.get(f"/goals/{task.goal_id}/tasks/{task.id}").text
    assert 'data-action="approve"' in card.split('<fieldset class="locked"', 1)[1]
    # revoking access stays possible while suspended: settings are not locked
    assert '<fieldset class="locked"' not in client.get("/settings/members").text


def test_an_active_account_is_not_locked(client: TestClient, tenant: Tenant) -> None:
    login(client, tenant.owner)
    assert '<fieldset class="locked"' not in client.get("/").text
