"""Importing the account side of a playbook: settings and budgets, knowledge notes and
files, routines (always paused) and webhook endpoints. Each item is checked by its
domain's own rules, so the messages are those of its form."""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.orm import Session

from web4os.accounts.models import Account
from web4os.accounts.zones import parse_time_zone
from web4os.agents import notes
from web4os.db import utcnow
from web4os.errors import InvalidInput
from web4os.files import service as files
from web4os.files.detect import clean_name
from web4os.goals import budgets
from web4os.goals.schemas import GoalCreate
from web4os.goaltemplates import service as templates
from web4os.playbooks.plan import Action, OnCollision, Run, free_file_name, free_name
from web4os.playbooks.schemas import FileEntry, RoutineEntry
from web4os.routines import schedule
from web4os.routines import service as routines
from web4os.routines.models import Routine
from web4os.routines.schemas import RoutineIn
from web4os.tenancy import AccountId
from web4os.webhooks import service as webhooks


def _account(session: Session, account_id: AccountId) -> Account:
    account = session.get(Account, account_id)
    assert account is not None
    return account


def import_settings(run: Run) -> None:
    """Time zone, low-credit threshold and the monthly budget: kept under ``skip``."""
    pb, account = run.doc.playbook, _account(run.session, run.ctx.account_id)
    zone = run.check(("account",), lambda: parse_time_zone(pb.account.time_zone))
    if zone is None:
        return
    changes = [(what, new) for what, old, new in (
        ("time zone", account.time_zone, zone),
        ("low-credit threshold", account.low_credit_threshold, pb.account.low_credit_threshold))
        if old != new]
    budget_changes = [(what, new) for what, old, new in (
        ("monthly budget", account.monthly_budget, pb.budgets.monthly),
        ("warning threshold", account.budget_warn_percent, pb.budgets.warn_percent)) if old != new]
    skip = run.policy == OnCollision.SKIP
    for section, found in (("account", changes), ("budgets", budget_changes)):
        for what, new in found:
            run.add(section, what, Action.SKIP if skip else Action.CHANGE,
                    "kept as the account has it" if skip else f"set to {new}")
    if skip or not run.apply:
        return
    account.time_zone, account.low_credit_threshold = zone, pb.account.low_credit_threshold
    if budget_changes:
        budgets.set_account_budget(run.session, run.ctx, pb.budgets.monthly,
                                   pb.budgets.warn_percent)


def import_notes(run: Run) -> None:
    entries = run.doc.playbook.notes
    run.duplicates("notes", [n.title for n in entries], "notes")
    existing = {n.title.lower(): n for n in notes.list_notes(run.session, run.ctx.account_id)}
    titles = {n.title for n in existing.values()}
    for i, entry in enumerate(entries):
        checked = run.check(("notes", i), lambda e=entry: notes.check_note(e.title, e.body))  # type: ignore[misc]
        if checked is None:
            continue
        title, body = checked
        found = existing.get(title.lower())
        if found is not None and found.body == body:
            run.add("notes", title, Action.SKIP, "already the same")
            continue
        if found is not None and run.policy == OnCollision.SKIP:
            run.add("notes", title, Action.SKIP, "a note with this title exists")
            continue
        if found is not None and run.policy == OnCollision.REPLACE:
            run.add("notes", title, Action.CHANGE, "replaced")
            if run.apply:
                notes.save_note(run.session, run.ctx, title=title, body=body, note_id=found.id)
            continue
        title = free_name(title, titles, limit=200)
        titles.add(title)
        run.add("notes", title, Action.CREATE, f"renamed from {entry.title}"
                if title != entry.title else "")
        if run.apply:
            notes.save_note(run.session, run.ctx, title=title, body=body)


def _decoded(entry: FileEntry) -> bytes:
    try:
        data = base64.b64decode("".join((entry.content_base64 or "").split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput("This is not valid base64.", field="content_base64") from None
    if len(data) != entry.size or hashlib.sha256(data).hexdigest() != entry.sha256:
        raise InvalidInput("The content does not match its size and sha256.",
                           field="content_base64")
    return data


def import_files(run: Run) -> None:
    entries = run.doc.playbook.files
    run.duplicates("files", [f.name for f in entries], "files")
    current = files.list_files(run.session, run.ctx.account_id, knowledge=True)
    by_name, hashes = {f.name.lower(): f for f in current}, {f.sha256 for f in current}
    names = {f.name for f in current}
    for i, entry in enumerate(entries):
        name = run.check(("files", i, "name"), lambda e=entry: clean_name(e.name))  # type: ignore[misc]
        data = b"" if entry.content_base64 is None else run.check(
            ("files", i), lambda e=entry: _decoded(e))  # type: ignore[misc]
        if name is None or data is None:
            continue
        found = by_name.get(name.lower())
        if (found is not None and found.sha256 == entry.sha256) or (
                found is None and entry.sha256 in hashes):
            same = found or next(f for f in current if f.sha256 == entry.sha256)
            run.file_names[entry.name] = same.name
            run.add("files", name, Action.SKIP, "already in the account")
            continue
        if entry.content_base64 is None:
            run.add("files", name, Action.SKIP, "by reference: upload it")
            run.fill.append(f"file {name}: upload it ({entry.size:,} bytes, sha256 "
                            f"{entry.sha256[:12]}…)")
            continue
        if found is not None and run.policy == OnCollision.SKIP:
            run.add("files", name, Action.SKIP, "a file with this name exists")
            continue
        replace = found is not None and run.policy == OnCollision.REPLACE
        target = name if replace else free_file_name(name, names)
        names.add(target)
        run.file_names[entry.name] = target
        if not run.ok(("files", i), lambda n=target, d=data: files.check_size(  # type: ignore[misc]
                n, len(d), run.session, run.ctx.account_id)):
            continue
        run.add("files", target, Action.CHANGE if replace else Action.CREATE,
                "replaced" if replace else f"{entry.size:,} bytes")
        if run.apply:
            if replace and found is not None:
                files.drop(run.session, found)
            files.store(run.session, run.ctx.account_id, name=target, data=data, goal_id=None,
                        created_by_id=run.ctx.user_id)


def _template_id(run: Run, i: int, entry: RoutineEntry) -> int | None:
    """The id of the template the routine runs (None: none, or not made yet in a preview)."""
    if not entry.template:
        return None
    name = run.template_names.get(entry.template)
    if name is None:
        found = templates.find_by_name(run.session, run.ctx.account_id, entry.template)
        if found is None:
            run.problems.append(run.doc.problem(
                ("routines", i, "template"),
                f"There is no template “{entry.template}” in the playbook or the account."))
            return None
        return found.id
    found = templates.find_by_name(run.session, run.ctx.account_id, name)
    return found.id if found is not None else None


def _routine_in(run: Run, i: int, entry: RoutineEntry, now: datetime) -> RoutineIn | None:
    path = ("routines", i)
    data = RoutineIn(title=entry.title, brief=entry.brief, require_approval=entry.require_approval,
                     credit_cap=entry.credit_cap, preset=entry.preset, at=entry.at,
                     cron=entry.cron, time_zone=entry.time_zone,
                     missed_policy=entry.missed_policy, overlap_policy=entry.overlap_policy,
                     template_id=_template_id(run, i, entry))
    try:
        GoalCreate(title=data.title, brief=data.brief, require_approval=data.require_approval,
                   credit_cap=data.credit_cap)
    except ValidationError as exc:
        err = exc.errors()[0]
        run.problems.append(run.doc.problem((*path, *[str(x) for x in err["loc"]][:1]),
                                            err["msg"].removeprefix("Value error, ")))
        return None
    ok = run.check(path, lambda: schedule.build(entry.preset, entry.at, entry.cron, parse_time_zone(
        entry.time_zone or _account(run.session, run.ctx.account_id).time_zone), now))
    return data if ok is not None else None


def _save_paused(run: Run, data: RoutineIn, routine: Routine | None, now: datetime) -> None:
    saved = routines.save_routine(run.session, run.ctx, data, now=now,
                                  routine_id=routine.id if routine else None)
    routines.pause(run.session, run.ctx, saved.id)


def import_routines(run: Run) -> None:
    """Imported routines start paused: an owner resumes each once its goal reads right."""
    entries, now = run.doc.playbook.routines, utcnow()
    run.duplicates("routines", [r.title for r in entries], "routines")
    current = routines.list_routines(run.session, run.ctx.account_id)
    existing = {r.title.lower(): r for r in current}
    titles = {r.title for r in current}
    for i, entry in enumerate(entries):
        data = _routine_in(run, i, entry, now)
        if data is None:
            continue
        found = existing.get(entry.title.strip().lower())
        if found is not None and run.policy == OnCollision.SKIP:
            run.add("routines", entry.title, Action.SKIP, "a routine with this title exists")
        elif found is not None and run.policy == OnCollision.REPLACE:
            run.add("routines", entry.title, Action.CHANGE, "replaced, paused")
            if run.apply:
                _save_paused(run, data, found, now)
        else:
            title = free_name(entry.title.strip(), titles, limit=200)
            titles.add(title)
            run.add("routines", title, Action.CREATE, "paused")
            if run.apply:
                _save_paused(run, data.model_copy(update={"title": title}), None, now)


def import_webhooks(run: Run) -> None:
    entries = run.doc.playbook.webhooks
    run.duplicates("webhooks", [w.url for w in entries], "webhooks")
    existing = {w.url: w for w in webhooks.list_endpoints(run.session, run.ctx.account_id)}
    for i, entry in enumerate(entries):
        path = ("webhooks", i)
        url = run.check(path, lambda e=entry: webhooks.check_url(e.url))  # type: ignore[misc]
        events = run.check(path, lambda e=entry: webhooks.check_events(e.events))  # type: ignore[misc]
        if url is None or events is None:
            continue
        found = existing.get(url)
        if found is not None and run.policy != OnCollision.REPLACE:
            run.add("webhooks", url, Action.SKIP, "an endpoint with this URL exists")
        elif found is not None:
            run.add("webhooks", url, Action.CHANGE, "events replaced; its secret is kept")
            if run.apply:
                webhooks.update_endpoint(run.session, run.ctx.account_id, found.id, events=events,
                                         description=entry.description, enabled=entry.enabled)
        else:
            run.add("webhooks", url, Action.CREATE, ", ".join(events))
            run.fill.append(f"webhook {url}: a new signing secret was generated; give it to "
                            "the receiver")
            if run.apply:
                made = webhooks.create_endpoint(run.session, run.ctx.account_id, url=url,
                                                events=events, description=entry.description,
                                                enabled=entry.enabled)
                run.secrets[url] = made.secret
