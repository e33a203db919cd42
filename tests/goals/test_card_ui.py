"""The card UI over HTTP: constant queries per board, collapsed long columns, card
actions by role, stale actions, and error pages that say what to do next."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from tests.factories import Tenant, csrf_from, login, make_card_in_review, make_planned_goal, plan_of
from tests.support.boards import big_goal
from web4os.goals import board
from web4os.goals import graph as plan_graph_module
from web4os.goals.models import Task, TaskStatus
from web4os.goals.statemachine import transition

S = TaskStatus


@contextmanager
def count_selects() -> Iterator[list[str]]:
    """Every query (SELECT, or WITH ... SELECT) any engine runs inside the block."""
    seen: list[str] = []

    def listener(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", listener)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", listener)


def _in_review(db: Session, tenant: Tenant) -> Task:
    return make_card_in_review(db, tenant, "## Draft\n\nThree findings.")


def _operator_on_card(client: TestClient, db: Session, tenant: Tenant) -> tuple[Task, str]:
    """A card in review and the operator logged in: the card, and its page's CSRF token."""
    task = _in_review(db, tenant)
    login(client, tenant.operator)
    return task, csrf_from(client.get(f"/goals/{task.goal_id}/tasks/{task.id}").text)


def test_a_board_costs_the_same_queries_for_3_or_300_cards(client: TestClient, db: Session,
                                                           tenant: Tenant) -> None:
    small = big_goal(db, tenant, ((S.DONE, 1), (S.PLANNED, 1), (S.RUNNING, 1)), title="Small")
    large = big_goal(db, tenant, title="Large")
    login(client, tenant.owner)
    client.get("/")  # warm per-process caches (e.g. the row-level-security role check)
    counts = {}
    for goal in (small, large):
        for path in (f"/goals/{goal.id}", f"/goals/{goal.id}/board"):
            with count_selects() as seen:
                assert client.get(path).status_code == 200
            counts[(goal.id, path.endswith("board"))] = len(seen)
    assert counts[(small.id, False)] == counts[(large.id, False)]
    assert counts[(small.id, True)] == counts[(large.id, True)]


def test_long_columns_collapse_until_shown_in_full(client: TestClient, db: Session,
                                                   tenant: Tenant) -> None:
    goal = big_goal(db, tenant, ((S.DONE, board.COLUMN_LIMIT + 5), (S.RUNNING, 1)))
    login(client, tenant.owner)
    page = client.get(f"/goals/{goal.id}").text
    assert page.count('class="card card-done"') == board.COLUMN_LIMIT
    assert f"Show all {board.COLUMN_LIMIT + 5} (5 more)" in page
    assert "graph-note" not in page  # small enough to draw
    full = client.get(f"/goals/{goal.id}/board?show=done").text
    assert full.count('class="card card-done"') == board.COLUMN_LIMIT + 5
    assert f'hx-get="/goals/{goal.id}/board?show=done"' in full  # the poll keeps it expanded
    assert "Show fewer" in full


def test_the_plan_graph_links_every_card_and_gives_way_to_the_board_when_huge(
        client: TestClient, db: Session, tenant: Tenant) -> None:
    task = _in_review(db, tenant)
    login(client, tenant.owner)
    page = client.get(f"/goals/{task.goal_id}").text
    assert page.count(f'<a href="/goals/{task.goal_id}/tasks/') >= 2  # one per graph node
    assert 'class="edge edge-needs_review"' in page
    db.rollback()  # SQLite: writing from a stale read snapshot would be refused
    huge = big_goal(db, tenant, ((S.PLANNED, plan_graph_module.GRAPH_MAX_NODES + 1),))
    assert "graph-note" in client.get(f"/goals/{huge.id}").text


def test_graph_titles_wrap_on_two_lines() -> None:
    assert plan_graph_module._wrap("Short") == ("Short",)
    lines = plan_graph_module._wrap("Research the audience and landscape for the spring promotion")
    assert len(lines) == 2 and all(len(line) <= plan_graph_module.TITLE_CHARS for line in lines)
    assert lines[1].endswith("…")


def test_a_stale_action_rerenders_the_card_with_what_changed(client: TestClient, db: Session,
                                                             tenant: Tenant) -> None:
    task, token = _operator_on_card(client, db, tenant)
    assert client.post(f"/tasks/{task.id}/approve",
                       data={"csrf_token": token, "seen": "needs_review"}).status_code == 200
    resp = client.post(f"/tasks/{task.id}/reject", data={
        "csrf_token": token, "seen": "needs_review", "feedback": "Add prices"})
    assert resp.status_code == 409
    assert "This card changed while you were looking: it is now done" in resp.text
    assert 'id="card-status">done<' in resp.text
    assert resp.headers["HX-Push-Url"] == f"/goals/{task.goal_id}/tasks/{task.id}"


def test_a_field_error_stays_on_the_card_with_the_input_kept(client: TestClient, db: Session,
                                                             tenant: Tenant) -> None:
    task, token = _operator_on_card(client, db, tenant)
    resp = client.post(f"/tasks/{task.id}/edit", data={
        "csrf_token": token, "seen": "needs_review", "title": "", "instructions": "Keep me"})
    assert resp.status_code == 422
    assert 'id="e-title"' in resp.text and "Keep me" in resp.text
    assert 'id="edit-details" data-keep-open open' in resp.text
    assert resp.headers["HX-Push-Url"] == f"/goals/{task.goal_id}/tasks/{task.id}"


def test_actions_show_up_in_the_timeline_with_who_clicked(client: TestClient, db: Session,
                                                          tenant: Tenant) -> None:
    task, token = _operator_on_card(client, db, tenant)
    page = client.post(f"/tasks/{task.id}/approve", data={"csrf_token": token}).text
    assert tenant.operator.email in page and "Approved." in page
    assert 'id="card-status">done<' in page
    assert 'data-action="approve"' not in page


def test_a_viewer_sees_no_actions_and_cannot_post_one(client: TestClient, db: Session,
                                                      tenant: Tenant) -> None:
    task = _in_review(db, tenant)
    login(client, tenant.viewer)
    page = client.get(f"/goals/{task.goal_id}/tasks/{task.id}").text
    assert "data-action" not in page and "read-only access" in page
    resp = client.post(f"/tasks/{task.id}/approve", data={"csrf_token": csrf_from(page)})
    assert resp.status_code == 403
    assert "ask an account owner" in resp.text.lower()
    db.rollback()
    db.refresh(task)
    assert task.status == S.NEEDS_REVIEW


def test_an_unknown_action_is_a_plain_404(client: TestClient, db: Session, tenant: Tenant) -> None:
    task = _in_review(db, tenant)
    login(client, tenant.owner)
    token = csrf_from(client.get("/").text)
    resp = client.post(f"/tasks/{task.id}/explode", data={"csrf_token": token})
    assert resp.status_code == 404
    assert "no such card action" in resp.text


def test_error_pages_keep_the_navigation_and_say_what_to_do(client: TestClient,
                                                            tenant: Tenant) -> None:
    login(client, tenant.owner)
    resp = client.get("/goals/999999")
    assert resp.status_code == 404
    assert "What you can do" in resp.text
    assert 'href="/inbox"' in resp.text and "Log out" in resp.text  # still logged in
    toast = client.get("/goals/999999/board", headers={"HX-Request": "true"})
    assert toast.status_code == 200 and toast.headers["HX-Retarget"] == "#toast"
    assert "That didn't work" in toast.text


def test_an_expired_form_says_to_reload(client: TestClient, db: Session, tenant: Tenant) -> None:
    task = _in_review(db, tenant)
    login(client, tenant.owner)
    resp = client.post(f"/tasks/{task.id}/approve", data={"csrf_token": "stale"})
    assert resp.status_code == 403
    assert "Reload the page" in resp.text


def test_the_card_fragment_polls_only_while_the_card_can_move(client: TestClient, db: Session,
                                                              tenant: Tenant) -> None:
    goal = make_planned_goal(db, tenant, plan_of(("a", "researcher", [])))
    task = db.query(Task).filter_by(goal_id=goal.id).one()
    db.commit()
    login(client, tenant.owner)
    live = client.get(f"/goals/{goal.id}/tasks/{task.id}/live").text
    assert live.lstrip().startswith("<div id=\"card-detail\"") or 'id="card-detail"' in live[:200]
    assert 'hx-trigger="every 2s"' in live and 'hx-swap-oob="true"' in live
    db.rollback()
    db.refresh(task)
    transition(db, task, S.CANCELLED, actor="test")
    db.commit()
    assert 'hx-trigger' not in client.get(f"/goals/{goal.id}/tasks/{task.id}/live").text


def test_a_20_card_plan_graph_has_no_overlapping_nodes_and_edges_run_forwards() -> None:
    from web4os.goals.models import Goal

    tasks = [Task(id=i, title=f"Step {i} of a longer plan with a long title", position=i,
                  status=S.PLANNED) for i in range(1, 21)]
    deps = {t.id: [t.id // 2] for t in tasks if t.id > 1}
    deps[20] = [1, 7, 19]
    b = board.Board(goal=Goal(), columns=[], counts={S.PLANNED: 20}, links=21, tasks=tasks,
                    deps=deps)
    graph = plan_graph_module.plan_graph(b)
    assert len(graph.nodes) == 20 and len(graph.edges) == 21
    boxes = [(n.x, n.y, n.x + graph.node_w, n.y + graph.node_h) for n in graph.nodes]
    for i, a in enumerate(boxes):
        assert a[2] <= graph.width and a[3] <= graph.height
        for c in boxes[i + 1:]:
            assert a[2] <= c[0] or c[2] <= a[0] or a[3] <= c[1] or c[3] <= a[1], "nodes overlap"
    assert all(src.x < dst.x for src, dst in graph.edges)
    assert all(len(n.lines) <= 2 for n in graph.nodes)
