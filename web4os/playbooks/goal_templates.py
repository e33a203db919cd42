"""Importing goal templates: each checked by the template form's rules
(``goaltemplates.schemas.TemplateIn``), its attachments named by knowledge file."""

from __future__ import annotations

from pydantic import ValidationError

from web4os.files import service as files
from web4os.goaltemplates import service as templates
from web4os.goaltemplates.schemas import TemplateIn
from web4os.playbooks.plan import Action, OnCollision, Run, free_name
from web4os.playbooks.schemas import TemplateEntry


def _attachments(run: Run, i: int, entry: TemplateEntry) -> list[int]:
    """The ids of the files a template attaches; one the playbook only names by reference
    (not uploaded yet) is listed to attach later."""
    stored = {f.name: f.id for f in files.list_files(run.session, run.ctx.account_id,
                                                    knowledge=True)}
    in_playbook = {f.name for f in run.doc.playbook.files}
    ids = []
    for j, attached in enumerate(entry.attachments):
        name = run.file_names.get(attached, attached)
        if name in stored:
            ids.append(stored[name])
        elif attached not in in_playbook:
            run.problems.append(run.doc.problem(
                ("templates", i, "attachments", j),
                f"There is no knowledge file “{attached}” in the playbook or the account."))
        elif run.apply:
            run.fill.append(f"template {entry.name}: attach “{attached}” once it is uploaded")
    return ids


def _template_in(run: Run, i: int, entry: TemplateEntry, name: str) -> TemplateIn | None:
    ids = _attachments(run, i, entry)
    try:
        return TemplateIn(name=name, title=entry.title, brief=entry.brief,
                          require_approval=entry.require_approval, credit_cap=entry.credit_cap,
                          attachments=ids)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else ""
        run.problems.append(run.doc.problem(("templates", i, field) if field else ("templates", i),
                                            err["msg"].removeprefix("Value error, ")))
        return None


def import_templates(run: Run) -> None:
    entries = run.doc.playbook.templates
    run.duplicates("templates", [t.name for t in entries], "templates")
    current = templates.list_templates(run.session, run.ctx.account_id)
    existing = {t.name.casefold(): t for t in current}
    names = {t.name for t in current}
    for i, entry in enumerate(entries):
        found = existing.get(" ".join(entry.name.split()).casefold())
        if found is not None and run.policy == OnCollision.SKIP:
            run.template_names[entry.name] = found.name
            run.add("templates", found.name, Action.SKIP, "a template with this name exists")
            continue
        replace = found is not None and run.policy == OnCollision.REPLACE
        name = found.name if replace and found else free_name(entry.name, names, limit=120)
        names.add(name)
        data = _template_in(run, i, entry, name)
        if data is None:
            continue
        run.template_names[entry.name] = name
        run.add("templates", name, Action.CHANGE if replace else Action.CREATE,
                "replaced" if replace else (f"renamed from {entry.name}"
                                            if name != entry.name else entry.title))
        if not run.apply:
            continue
        if replace and found is not None:
            templates.update_template(run.session, run.ctx, found.id, data)
        else:
            templates.create_template(run.session, run.ctx, data)
