"""Goal titles, agent outputs and everything else a person or a model writes are rendered
inert: no live script, no event-handler attribute, no ``javascript:`` link, no template
evaluation — checked on the rendered HTML of the home page, board, card detail and inbox."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.factories import Tenant, login, make_planned_goal, plan_of
from web4os.agents.models import Agent
from web4os.goals.models import Task, TaskEvent, TaskStatus
from web4os.goaltemplates.models import GoalTemplate

PAYLOADS = (
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(2)>",
    "[click me](javascript:alert(3))",
    '<a href="javascript:alert(4)">x</a>',
    '"><svg onload=alert(5)>',
    "<iframe src=javascript:alert(6)></iframe>",
    "![pic](javascript:alert(7))",
    "[mixed](JaVaScRiPt:alert(8))",
    "[spaced]( java\tscript:alert(9))",
    "<style>body{display:none}</style>",
    "{{ 'EVAL' ~ 'UATED' }}{% raw %}",
    "<a href='data:text/html,<script>alert(10)</script>'>d</a>",
)
ALL = "\n\n".join(PAYLOADS)
DANGEROUS_URL = re.compile(r"^(javascript|vbscript|data\s*:\s*text/html)", re.I)
URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "background"}


class _Inspector(HTMLParser):
    """Collects every way a page could run something it did not ship itself."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            src = values.get("src") or ""
            if not src.startswith("/static/"):
                self.problems.append(f"<script> not from /static/: {attrs}")
            self._in_script = True
        if tag in ("iframe", "object", "embed", "style", "base", "meta") and tag != "meta":
            self.problems.append(f"<{tag}> in the page: {attrs}")
        if tag == "meta" and (values.get("http-equiv") or "").lower() == "refresh":
            self.problems.append(f"meta refresh: {attrs}")
        for name, value in attrs:
            if name.lower().startswith("on"):
                self.problems.append(f"handler attribute {name}={value!r} on <{tag}>")
            if name.lower() in URL_ATTRS and value:
                cleaned = re.sub(r"[\x00-\x20]", "", value)
                if DANGEROUS_URL.match(cleaned):
                    self.problems.append(f"{name}={value!r} on <{tag}>")
            if name.lower() == "style":
                self.problems.append(f"inline style on <{tag}> (the CSP forbids them)")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"inline script: {data[:80]!r}")


def assert_inert(html: str, where: str) -> None:
    inspector = _Inspector()
    inspector.feed(html)
    assert not inspector.problems, f"{where}:\n" + "\n".join(inspector.problems)
    # Letters, not a number: a number can turn up in a timestamp's microseconds.
    assert "EVALUATED" not in html, f"{where}: a template expression in user text was evaluated"


def _hostile_goal(db: Session, tenant: Tenant) -> tuple[int, list[int]]:
    plan = plan_of(("a", "researcher", []), ("b", "writer", ["a"]), ("c", "analyst", ["a"]))
    goal = make_planned_goal(db, tenant, plan, title=PAYLOADS[0] + PAYLOADS[1][:60])
    goal.brief = ALL
    goal.summary = ALL
    goal.status_reason = PAYLOADS[4]
    tasks = db.scalars(select(Task).where(Task.goal_id == goal.id).order_by(Task.id)).unique().all()
    statuses = (TaskStatus.NEEDS_REVIEW, TaskStatus.FAILED, TaskStatus.DONE)
    for i, (task, status) in enumerate(zip(tasks, statuses, strict=True)):
        task.title = PAYLOADS[i % len(PAYLOADS)][:200]
        task.instructions = ALL
        task.output = ALL
        task.note = ALL
        task.feedback = ALL
        task.status = status
        task.status_reason = ALL
        db.add(TaskEvent(account_id=tenant.id, goal_id=goal.id, task_id=task.id, kind="status",
                         from_status="running", to_status=status.value, actor=PAYLOADS[1][:120],
                         message=ALL, data={"html": PAYLOADS[0]}))
    agent = db.scalars(select(Agent).where(Agent.account_id == tenant.id,
                                           Agent.slug == "researcher")).one()
    agent.name = PAYLOADS[1][:80]
    agent.role = PAYLOADS[4]
    db.commit()
    return goal.id, [t.id for t in tasks]


def test_hostile_text_is_rendered_inert_on_every_page(client: TestClient, db: Session,
                                                      tenant: Tenant) -> None:
    goal_id, task_ids = _hostile_goal(db, tenant)
    login(client, tenant.owner)
    pages = ["/", "/inbox", f"/goals/{goal_id}", f"/goals/{goal_id}/board",
             *(f"/goals/{goal_id}/tasks/{t}" for t in task_ids)]
    for path in pages:
        for htmx in (False, True):
            resp = client.get(path, headers={"HX-Request": "true"} if htmx else {})
            assert resp.status_code == 200, (path, resp.status_code)
            assert_inert(resp.text, f"GET {path} (htmx={htmx})")
    # Not vacuous: the hostile text is on the pages, escaped.
    home = client.get("/").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in home
    card = client.get(f"/goals/{goal_id}/tasks/{task_ids[2]}").text
    assert "click me" in card and "alert(3)" not in re.findall(r'href="([^"]*)"', card)
    inbox = client.get("/inbox").text
    assert "&lt;img src=x onerror=alert(2)&gt;" in inbox


def test_inspector_catches_live_markup() -> None:
    """The checker itself must fail on the things it looks for."""
    for bad in ('<script>alert(1)</script>', '<img src=x onerror="alert(1)">',
                '<a href=" javascript:alert(1)">x</a>', '<iframe src="/"></iframe>',
                '<a href="data:text/html,x">x</a>', '<p style="color:red">x</p>'):
        inspector = _Inspector()
        inspector.feed(bad)
        assert inspector.problems, bad
    ok = _Inspector()
    ok.feed('<script src="/static/htmx.min.js"></script><a href="https://example.com">x</a>')
    assert not ok.problems


def test_hostile_text_in_a_template_is_rendered_inert(client: TestClient, db: Session,
                                                      tenant: Tenant) -> None:
    goal_id, _ = _hostile_goal(db, tenant)
    template = GoalTemplate(account_id=tenant.id, name=PAYLOADS[1], title=PAYLOADS[0],
                            brief=ALL, attachments=[])
    db.add(template)
    db.commit()
    login(client, tenant.owner)
    for path in ("/templates", f"/templates/{template.id}", f"/templates/{template.id}/edit",
                 f"/templates/{template.id}/start", f"/goals/{goal_id}/save-template"):
        resp = client.get(path)
        assert resp.status_code == 200, (path, resp.status_code)
        assert_inert(resp.text, f"GET {path}")
    assert "&lt;img src=x onerror=alert(2)&gt;" in client.get("/templates").text
