"""The shared state of one preview or import: the collision policy, what each section
will do (or did), the problems found, and what is left to fill in.

A preview and an import walk the document with the same code; only ``apply`` differs,
so the preview cannot promise what the import would not do.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel
from sqlalchemy.orm import Session

from web4os.errors import DomainError
from web4os.playbooks.loader import Document, Path, Problem
from web4os.tenancy import TenantContext

T = TypeVar("T")
SECTIONS = ("account", "budgets", "mcp_servers", "web_fetch", "roster", "notes", "files",
            "templates", "routines", "webhooks")


class OnCollision(enum.StrEnum):
    """What to do with an item whose name the account already uses."""

    RENAME = "rename"  # import it beside the existing one: "Writer" becomes "Writer (2)"
    SKIP = "skip"  # keep the account's; settings and budgets stay as they are too
    REPLACE = "replace"  # the playbook's version replaces the account's


class Action(enum.StrEnum):
    CREATE = "create"
    CHANGE = "change"
    SKIP = "skip"


class PlanItem(BaseModel):
    section: str
    name: str
    action: Action
    detail: str = ""


class SectionPlan(BaseModel):
    section: str
    create: list[PlanItem]
    change: list[PlanItem]
    skip: list[PlanItem]


class PlanOut(BaseModel):
    """What an import does (preview) or did (import), per section."""

    on_collision: OnCollision
    applied: bool
    sections: list[SectionPlan]
    to_fill_in: list[str]
    new_secrets: dict[str, str] = {}  # a new webhook's URL → its signing secret (shown once)


@dataclass
class Run:
    """One walk of a document over an account."""

    session: Session
    ctx: TenantContext
    doc: Document
    policy: OnCollision
    apply: bool
    items: list[PlanItem] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    fill: list[str] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)
    # Names as the playbook gives them → as the account has them (an item may be renamed).
    server_names: dict[str, str] = field(default_factory=dict)
    file_names: dict[str, str] = field(default_factory=dict)
    template_names: dict[str, str] = field(default_factory=dict)

    def add(self, section: str, name: str, action: Action, detail: str = "") -> None:
        self.items.append(PlanItem(section=section, name=name, action=action, detail=detail))

    def check(self, path: Path, fn: Callable[[], T], fields: dict[str, str] | None = None,
              ) -> T | None:
        """``fn()``, or None with its refusal recorded at ``path`` (and the field it names,
        translated to the playbook's name for it)."""
        try:
            return fn()
        except DomainError as exc:
            where = path
            if exc.field and exc.field not in ("file", "playbook"):
                where = (*path, (fields or {}).get(exc.field, exc.field))
            self.problems.append(self.doc.problem(where, exc.message))
            return None

    def ok(self, path: Path, fn: Callable[[], object], fields: dict[str, str] | None = None,
           ) -> bool:
        """Whether ``fn()`` passed (its refusal recorded as ``check`` does)."""
        before = len(self.problems)
        self.check(path, fn, fields)
        return len(self.problems) == before

    def duplicates(self, section: str, keys: Iterable[str], what: str) -> None:
        """Two items of one section with one name: refused, whatever the policy."""
        seen: set[str] = set()
        for i, key in enumerate(keys):
            if key.lower() in seen:
                self.problems.append(self.doc.problem(
                    (section, i), f"The playbook has two {what} called “{key}”."))
            seen.add(key.lower())

    def out(self) -> PlanOut:
        sections = [SectionPlan(
            section=s, create=[i for i in self.items if i.section == s and i.action == Action.CREATE],
            change=[i for i in self.items if i.section == s and i.action == Action.CHANGE],
            skip=[i for i in self.items if i.section == s and i.action == Action.SKIP])
            for s in SECTIONS]
        return PlanOut(on_collision=self.policy, applied=self.apply, sections=sections,
                       to_fill_in=list(dict.fromkeys(self.fill)), new_secrets=self.secrets)


_NUMBERED = re.compile(r"^(.*) \((\d+)\)$")


def free_name(name: str, taken: set[str], *, limit: int) -> str:
    """``name`` or, when taken (case-insensitively), "name (2)", "name (3)"…"""
    lower = {t.lower() for t in taken}
    if name.lower() not in lower:
        return name
    m = _NUMBERED.match(name)
    base, n = (m.group(1), int(m.group(2))) if m else (name, 1)
    while True:
        n += 1
        suffix = f" ({n})"
        candidate = base[:limit - len(suffix)] + suffix
        if candidate.lower() not in lower:
            return candidate


def free_handle(handle: str, taken: set[str], *, limit: int = 40) -> str:
    """``handle`` or "handle-2", "handle-3"… (handles are lower-case words)."""
    if handle not in taken:
        return handle
    n = 1
    while True:
        n += 1
        candidate = handle[:limit - len(str(n)) - 1] + f"-{n}"
        if candidate not in taken:
            return candidate


def free_file_name(name: str, taken: set[str]) -> str:
    """"price list (2).pdf": the number before the extension."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return free_name(name, taken, limit=200)
    lower = {t.lower() for t in taken}
    n = 1
    candidate = name
    while candidate.lower() in lower:
        n += 1
        candidate = f"{stem[:190]} ({n}).{ext}"
    return candidate
