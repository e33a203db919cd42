"""The OpenAPI document a client generates its code from: every ``/api/v1`` operation
has a unique operation id, one domain tag, a documented 2xx answer and the shared error
schema for its errors."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi.testclient import TestClient

from web4os.app import create_app

SPEC = create_app(start_worker=False).openapi()
TAGS = {"goals", "tasks", "agents", "notes", "files", "reports", "credits", "budgets",
        "routines", "webhooks", "notifications", "tools", "account", "members", "tokens",
        "account-data", "admin", "templates", "playbooks"}
ERROR = {"$ref": "#/components/schemas/ErrorOut"}


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, op) for path, ops in SPEC["paths"].items()
            if path.startswith("/api/v1") for method, op in ops.items()]


OPERATIONS = _operations()


def _where(method: str, path: str) -> str:
    return f"{method} {path}"


def test_the_document_describes_the_json_api_only() -> None:
    pages = [path for path in SPEC["paths"] if not path.startswith("/api/v1/")]
    assert not pages, f"HTML pages in the API's document: {pages[:5]}"
    assert len(OPERATIONS) > 100


def test_operation_ids_are_given_and_unique() -> None:
    ids = Counter(op.get("operationId") for _, _, op in OPERATIONS)
    assert not [i for i, n in ids.items() if n > 1], "operation ids used twice"
    generated = [_where(m, p) for m, p, op in OPERATIONS
                 if "operationId" not in op or "_api_v1_" in op["operationId"]]
    assert not generated, f"operations without a chosen operation id: {generated}"


def test_each_operation_has_one_domain_tag() -> None:
    wrong = [(_where(m, p), op.get("tags")) for m, p, op in OPERATIONS
             if len(op.get("tags", [])) != 1 or op["tags"][0] not in TAGS]
    assert not wrong, f"operations without exactly one known tag: {wrong}"
    assert {op["tags"][0] for _, _, op in OPERATIONS} >= TAGS - {"reports"}


def _documented_success(op: dict[str, Any]) -> bool:
    for status, answer in op["responses"].items():
        if not status.startswith("2"):
            continue
        if status == "204":
            return "content" not in answer
        content = answer.get("content", {})
        json_schema = content.get("application/json", {}).get("schema")
        if json_schema or any(kind != "application/json" for kind in content):
            return True
    return False


def test_each_operation_documents_its_success() -> None:
    """A JSON schema, a named non-JSON media type (a file, Markdown), or 204 (no body)."""
    missing = [_where(m, p) for m, p, op in OPERATIONS if not _documented_success(op)]
    assert not missing, f"operations whose success answer is not described: {missing}"


def test_each_operation_documents_its_errors_with_the_shared_schema() -> None:
    problems = []
    for method, path, op in OPERATIONS:
        for status in ("401", "403", "404", "422"):
            answer = op["responses"].get(status, {})
            schema = answer.get("content", {}).get("application/json", {}).get("schema")
            if schema != ERROR:
                problems.append(f"{_where(method, path)} {status}: {schema}")
    assert not problems, "errors not documented as ErrorOut:\n" + "\n".join(problems)
    fields = SPEC["components"]["schemas"]["ErrorOut"]["properties"]
    assert {"detail", "field", "errors"} <= set(fields)


def test_real_errors_match_the_documented_shape(client: TestClient) -> None:
    """The documented shape is what the app sends: 401, 404 and a validation 422."""
    unauth = client.get("/api/v1/goals")
    assert unauth.status_code == 401 and set(unauth.json()) == {"detail"}
    invalid = client.post("/api/v1/goals", headers={"Authorization": "Bearer nope"})
    assert invalid.status_code == 401 and isinstance(invalid.json()["detail"], str)
    missing = client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404 and isinstance(missing.json()["detail"], str)


def test_docs_page_serves_under_the_csp(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200 and "swagger" in page.text.lower()
    assert "unsafe-inline" not in page.headers["content-security-policy"].split("script-src")[1]
