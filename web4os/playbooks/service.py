"""Playbooks: preview an import, import it in one transaction, and the starter playbooks
a new account can begin from.

Importing changes the roster, budgets and webhooks, so only owners import (the routes
check the role; the agents' and budgets' services check it again). A preview walks the
document exactly as the import does, without writing. An import writes inside a
savepoint: the first refusal rolls everything back, so an account never holds half a
playbook.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files as package_files

from sqlalchemy.orm import Session

from web4os.errors import DomainError, InvalidInput
from web4os.playbooks import goal_templates, loader, roster, sections
from web4os.playbooks.loader import Document, PlaybookInvalid, Problem
from web4os.playbooks.plan import OnCollision, PlanOut, Run
from web4os.tenancy import AccountId, TenantContext

STEPS = (sections.import_settings, roster.import_servers, roster.import_web_fetch,
         roster.import_roster, sections.import_notes, sections.import_files,
         goal_templates.import_templates, sections.import_routines, sections.import_webhooks)
SECTION_OF = {s.__name__: n for s, n in zip(STEPS, (
    "account", "mcp_servers", "web_fetch", "roster", "notes", "files", "templates", "routines",
    "webhooks"), strict=True)}


def parse_policy(raw: str) -> OnCollision:
    try:
        return OnCollision(raw.strip().lower() or "rename")
    except ValueError:
        raise PlaybookInvalid([Problem(None, "on_collision",
                                       "Choose rename, skip or replace.")]) from None


def _walk(session: Session, ctx: TenantContext, doc: Document, policy: OnCollision, *,
          apply: bool) -> PlanOut:
    run = Run(session=session, ctx=ctx, doc=doc, policy=policy, apply=apply)
    for step in STEPS:
        try:
            step(run)
        except DomainError as exc:  # a refusal no check foresaw: still names the section
            run.problems.append(doc.problem((SECTION_OF[step.__name__],), exc.message))
        if run.problems and apply:  # stop writing at the first refusal
            raise PlaybookInvalid(run.problems)
    if run.problems:
        raise PlaybookInvalid(run.problems)
    return run.out()


def preview(session: Session, ctx: TenantContext, raw: str | bytes,
            policy: OnCollision) -> PlanOut:
    """What importing ``raw`` would create, change and skip; nothing is written."""
    return _walk(session, ctx, loader.load(raw), policy, apply=False)


def import_playbook(session: Session, ctx: TenantContext, raw: str | bytes,
                    policy: OnCollision) -> PlanOut:
    """Check the document again and import it: all of it, or (on any refusal) nothing."""
    doc = loader.load(raw)
    _walk(session, ctx, doc, policy, apply=False)
    savepoint = session.begin_nested()
    try:
        result = _walk(session, ctx, doc, policy, apply=True)
    except BaseException:
        savepoint.rollback()
        raise
    savepoint.commit()
    return result


# --- starters ------------------------------------------------------------------------

BLANK = "blank"


@dataclass(frozen=True)
class Starter:
    key: str
    name: str
    description: str
    text: str


def starters() -> list[Starter]:
    """The starter playbooks shipped in ``web4os/playbooks/starters/``, by name."""
    return list(_shipped())


@cache
def _shipped() -> tuple[Starter, ...]:
    """Read and checked once per process: the files ship with the package."""
    folder = package_files("web4os.playbooks").joinpath("starters")
    found = []
    for item in folder.iterdir():
        if item.name.endswith(".yaml"):
            text = item.read_text(encoding="utf-8")
            doc = loader.load(text).playbook
            found.append(Starter(item.name.removesuffix(".yaml"), doc.name, doc.description,
                                 text))
    return tuple(sorted(found, key=lambda s: s.name))


def starter_choices() -> list[tuple[str, str]]:
    """(key, label) for a "Start from" select, Blank first (today's default roster)."""
    return [(BLANK, "Blank: the default team"), *((s.key, s.name) for s in starters())]


def check_starter(key: str, *, field: str = "starter") -> str:
    key = (key or BLANK).strip()
    if key != BLANK and key not in {s.key for s in starters()}:
        raise InvalidInput("Choose a starter playbook from the list.", field=field)
    return key


def apply_starter(session: Session, account_id: AccountId, key: str, *,
                  user_id: int | None = None, actor: str = "starter") -> PlanOut | None:
    """Give a new account the starter playbook ``key`` (None for ``blank``): its agents
    replace the default ones of the same names; its routines start paused."""
    key = check_starter(key)
    if key == BLANK:
        return None
    text = next(s.text for s in starters() if s.key == key)
    ctx = TenantContext(account_id=account_id, user_id=user_id, role="owner", actor=actor)
    return import_playbook(session, ctx, text, OnCollision.REPLACE)
