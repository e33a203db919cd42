"""The document format: hostile playbooks are refused with line and field before anything
is imported; the shipped schema matches the models; the starters are valid."""

from __future__ import annotations

import json
from importlib.resources import files

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import Tenant
from web4os.agents.models import Agent, Note
from web4os.playbooks import loader, service
from web4os.playbooks.loader import PlaybookInvalid
from web4os.playbooks.plan import OnCollision
from web4os.playbooks.schemas import json_schema

BILLION_LAUGHS = """playbook: 1
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: [*d,*d,*d,*d,*d,*d,*d,*d,*d]
"""
AGENT = "playbook: 1\nroster:\n  - handle: poet\n    name: {name}\n    role: Writes poems\n" \
        "    instructions: {instructions}\n"


def _problems(text: str | bytes) -> list[str]:
    with pytest.raises(PlaybookInvalid) as refused:
        loader.load(text)
    return [str(p) for p in refused.value.problems]


@pytest.mark.parametrize(("text", "expected"), [
    ("playbook: 1\nroster: [\n", "line 3, playbook: This is not valid YAML"),
    ("playbook: 7\n", "line 1, playbook: This server reads playbook version 1, not “7”."),
    ("name: no version\n", "Start the playbook with its version"),
    ("- just\n- a list\n", "A playbook is a map of sections"),
    (BILLION_LAUGHS, "line 2, playbook: Anchors and aliases"),
    ("playbook: 1\n" + "x:\n" * 1 + "  " + "[" * 40 + "]" * 40 + "\n", "nests deeper than 12"),
    ("playbook: 1\nnotes:\n" + "  - {title: a, body: b}\n" * 20_000, "more than 50,000 values"),
    ("playbook: 1\n---\nplaybook: 1\n", "Put one playbook in the file"),
    ("playbook: 1\nroster:\n  - handle: x\n    name: 12\n    role: [1]\n",
     "line 4, roster[0].name: Input should be a valid string"),
    ("playbook: 1\nbudgets:\n  monthly: lots\n", "line 3, budgets.monthly:"),
    ("playbook: 1\nfiles: 5\nroster: {a: 1}\n", "line 2, files: Input should be a valid list"),
    ("playbook: true\n", "This server reads playbook version 1"),
    ("playbook: 1\nroster:\n  - handle: x\n    nmae: A\n    role: B\n",
     "line 4, roster[0].nmae: Unknown field"),
    ("playbook: 1\nroster:\n  - handle: x\n    role: B\n",
     "line 3, roster[0].name: This field is required."),
    ("playbook: 1\nroster:\n  - handle: x\n    name: \"Bad\\x07name\"\n    role: B\n",
     "line 4, roster[0].name: This text has a control character (U+0007)"),
    ("playbook: 1\nroster:\n  - handle: x\n    name: \"Bad\x07name\"\n    role: B\n",
     "line 4, playbook: The file holds a control character (U+0007)"),
    ("playbook: 1\nnotes:\n  - title: \"\\u202Egnp.exe\"\n",
     "line 3, notes[0].title: This text has a hidden text-direction control"),
    (b"playbook: 1\nname: \xff\xfe\n", "Save the playbook as UTF-8 text."),
])
def test_hostile_documents_are_refused_with_line_and_field(text: str | bytes,
                                                           expected: str) -> None:
    problems = _problems(text)
    assert any(expected in p for p in problems), problems


def test_a_huge_document_is_refused_before_it_is_parsed() -> None:
    huge = "playbook: 1\ndescription: " + "x" * (loader.MAX_BYTES + 1)
    assert "too large" in _problems(huge)[0]
    long_text = "playbook: 1\nnotes:\n" + "".join(
        f"  - title: n{i}\n    body: {'y' * 19_000}\n" for i in range(110))
    assert "besides embedded files" in _problems(long_text)[0]


@pytest.mark.parametrize(("name", "instructions", "expected"), [
    ("Poet", "<script>alert(1)</script>",
     "line 6, roster[0].instructions: Write plain text, without HTML: remove “<script>”."),
    ("<b>Poet</b>", "Rhyme.", "line 4, roster[0].name: Write plain text, without HTML"),
    ("Poet", "'" + "w" * 8001 + "'", "line 6, roster[0].instructions: String should have at most"),
])
def test_agents_are_checked_by_the_agent_form_rules(db: Session, tenant: Tenant, name: str,
                                                    instructions: str, expected: str) -> None:
    text = AGENT.format(name=name, instructions=instructions)
    before = db.scalar(select(func.count()).select_from(Agent))
    with pytest.raises(PlaybookInvalid) as refused:
        service.import_playbook(db, tenant.ctx(), text, OnCollision.RENAME)
    assert any(expected in str(p) for p in refused.value.problems), refused.value.problems
    db.commit()
    assert db.scalar(select(func.count()).select_from(Agent)) == before


def test_every_problem_of_a_document_is_listed_and_nothing_imported(db: Session,
                                                                    tenant: Tenant) -> None:
    text = """playbook: 1
account:
  time_zone: Mars/Olympus
roster:
  - handle: Bad Handle
    name: Poet
    role: Writes
    tools: [telepathy]
    tool_policies: {crm.find: allowed}
notes:
  - title: Ok
    body: fine
  - title: ok
routines:
  - title: Nightly
    preset: cron
    cron: every night
webhooks:
  - url: ftp://example.test/hook
    events: [goal.completed]
"""
    with pytest.raises(PlaybookInvalid) as refused:
        service.preview(db, tenant.ctx(), text, OnCollision.RENAME)
    got = [str(p) for p in refused.value.problems]
    for expected in ("line 3, account.time_zone: Pick a time zone from the list",
                     "line 5, roster[0].handle: Use lower-case letters",
                     "line 8, roster[0].tools: There is no tool called “telepathy”.",
                     "line 9, roster[0].tool_policies.crm.find: There is no tool “crm.find”",
                     "line 13, notes[1]: The playbook has two notes called “ok”.",
                     "line 17, routines[0].cron: Write a cron expression of five fields",
                     "line 19, webhooks[0].url: Only http and https"):
        assert any(g.startswith(expected) for g in got), (expected, got)
    assert db.scalar(select(func.count()).select_from(Note)) == 0


def test_the_shipped_schema_matches_the_models() -> None:
    shipped = json.loads(files("web4os.playbooks").joinpath("schema.json").read_text("utf-8"))
    assert shipped == json_schema(), (
        "web4os/playbooks/schema.json is stale: regenerate it with\n"
        "python -c \"import json; from web4os.playbooks.schemas import json_schema; "
        "print(json.dumps(json_schema(), indent=2, sort_keys=True))\" "
        "> web4os/playbooks/schema.json")


def test_each_starter_is_a_valid_playbook_with_real_content() -> None:
    starters = service.starters()
    assert {s.key for s in starters} == {"local-shop", "consulting-onboarding", "online-store"}
    for starter in starters:
        pb = loader.load(starter.text).playbook
        assert pb.name and pb.description and pb.budgets.monthly
        assert sum(a.ceo for a in pb.roster) == 1 and len(pb.roster) >= 3
        assert all(len(a.instructions) > 150 for a in pb.roster)
        assert len(pb.notes) >= 3 and len(pb.routines) >= 2 and len(pb.templates) >= 2
        assert not pb.webhooks and not pb.mcp_servers  # nothing to fill in at signup


def test_free_names_number_like_a_person_would() -> None:
    from web4os.playbooks.plan import free_file_name, free_handle, free_name

    assert free_name("Writer", {"writer"}, limit=80) == "Writer (2)"
    assert free_name("Writer (2)", {"Writer", "Writer (2)"}, limit=80) == "Writer (3)"
    assert free_handle("writer", {"writer", "writer-2"}) == "writer-3"
    assert free_file_name("prices.pdf", {"prices.pdf"}) == "prices (2).pdf"


def test_the_readme_excerpt_is_from_the_starter() -> None:
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text("utf-8")
    section = readme[readme.index("## Playbooks"):]
    excerpt = section[section.index("```yaml\n") + 8:section.index("```\n", section.index("```yaml"))]
    starter = next(s for s in service.starters() if s.key == "local-shop").text
    assert all(line in starter.splitlines() for line in excerpt.splitlines()), excerpt
    loader.load(excerpt)
