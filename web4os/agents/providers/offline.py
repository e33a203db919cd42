"""The built-in offline model: deterministic, labelled, no network.

It reads only the messages it is sent (the same prompts a real model gets), so
the product works end to end out of the box and tests exercise real prompts.
Every deliverable it writes says plainly that no external AI was involved.
"""

from __future__ import annotations

import functools
import json
import re
import time
from dataclasses import dataclass
from typing import Any

from web4os.agents.providers.base import ModelReply, ModelRequest, estimate_tokens
from web4os.config import OFFLINE_LABEL
from web4os.turns import waiting

OFFLINE_MODEL_NAME = "web4os-offline-1"
OFFLINE_BANNER = (
    "_Written by the web4os offline model: a built-in stand-in, no external AI was used._"
)


@dataclass(frozen=True)
class _Step:
    """One archetypal piece of work the offline planner knows how to lay out."""

    key: str
    archetype: str
    title: str
    instructions: str
    depends_on: tuple[str, ...]
    credits: int


_STEPS: tuple[_Step, ...] = (
    _Step("research", "research", "Research the audience and landscape",
          "For “{g}”: find who this is for, what they already get elsewhere and what would "
          "make them care. List 3-5 concrete findings with sources or reasoning.", (), 3),
    _Step("targets", "analysis", "Set targets, budget and success measures",
          "Turn “{g}” into 2-3 measurable targets, a rough budget and the risks worth "
          "watching.", (), 2),
    _Step("draft", "writing", "Draft the core content",
          "Using the research and targets, write the first version of what the audience of "
          "“{g}” will actually see.", ("research", "targets"), 4),
    _Step("promote", "marketing", "Plan channels and launch messages",
          "Pick channels that fit the audience found in research and write the launch "
          "message for each, for “{g}”.", ("research",), 3),
    _Step("operate", "operations", "Prepare the launch checklist",
          "List the tools, accounts, owners and dates needed to run “{g}” week after week.",
          ("draft", "promote"), 2),
    _Step("review", "analysis", "Final review and go/no-go",
          "Check the draft, promotion plan and checklist against the targets; say what is "
          "ready for “{g}” and what needs the operator.", ("operate",), 2),
)

_ARCHETYPE_WORDS = {
    "research": ("research", "investigat", "insight"),
    "analysis": ("analy", "data", "finance", "metric"),
    "writing": ("writ", "copy", "content", "editor"),
    "marketing": ("market", "growth", "social", "brand"),
    "operations": ("operat", "ops", "logistic", "admin"),
}


_HEADERS = ("GOAL|BRIEF|ROSTER|RULES|TASK|INSTRUCTIONS|FILES|INPUTS|CONTEXT|NOTES|FEEDBACK|"
            "DELIVERABLE|RESULTS|DONE|FAILED|REMAINING|KEYS IN USE|TOOLS|TOOL RESULTS|ANSWER")


# A header starts a line; matching "\n" first lets the regex engine skip to the next
# newline instead of trying the headers at every character.
_HEADER_LINE = re.compile(rf"\n({_HEADERS}):[ \t]*")


@functools.lru_cache(maxsize=16)
def _sections(text: str) -> dict[str, str]:
    """Each section's text (after ``NAME:`` up to the next header line), first one wins.

    One pass over the prompt, shared by every section asked of it: a specialist's
    prompt carries its inputs, and a lazy match per section tries every header at
    every character.
    """
    text = "\n" + text
    heads = list(_HEADER_LINE.finditer(text))
    found: dict[str, str] = {}
    ends = [head.start() for head in heads[1:]] + [len(text)] if heads else []
    for head, end in zip(heads, ends, strict=True):
        found.setdefault(head.group(1), text[head.end():end].strip())
    return found


def _section(text: str, name: str) -> str:
    """The text after ``NAME:`` up to the next upper-case section header ("" if none)."""
    return _sections(text).get(name, "")


def _roster(text: str) -> list[tuple[str, str]]:
    """``(slug, description)`` pairs from the prompt's ROSTER section."""
    out = []
    for line in _section(text, "ROSTER").splitlines():
        m = re.match(r"\s*-\s*([a-z0-9][a-z0-9_-]*)\s*[:—-]\s*(.*)", line)
        if m:
            out.append((m.group(1), m.group(2).lower()))
    return out


def _pick_agent(archetype: str, roster: list[tuple[str, str]]) -> str:
    """The roster member whose handle, else whose description, fits the archetype."""
    words = _ARCHETYPE_WORDS[archetype]
    for slug, _desc in roster:
        if any(w in slug for w in words):
            return slug
    for slug, desc in roster:
        if any(w in desc for w in words):
            return slug
    return roster[0][0] if roster else archetype


_DOC_LINE = re.compile(r"\n--- DOC: (.+?) ---(?=\n|\Z)")  # "\n" first, as above


_FILE_LINE = re.compile(r"\n--- FILE: (.+?) \((?:attached|knowledge)\) ---\n(.*)")


def _file_lines(text: str) -> list[str]:
    """Each file the prompt passes in, with the first line of its text (``--- FILE: …``)."""
    return [f"{name}: {_short(first.strip(), 80)}" if first.strip() else name
            for name, first in _FILE_LINE.findall("\n" + text)]


def _doc_titles(text: str) -> list[str]:
    """Titles of the documents the prompt passes in (``--- DOC: title (by agent) ---``)."""
    return _DOC_LINE.findall("\n" + text)


def _short(goal: str, limit: int = 60) -> str:
    goal = " ".join(goal.split())
    return goal if len(goal) <= limit else goal[: limit - 1].rstrip() + "…"


class OfflineModel:
    """A deterministic stand-in for an LLM; honest about being one."""

    label = OFFLINE_LABEL
    offline = True

    def __init__(self, latency_seconds: float = 0.0) -> None:
        self.latency_seconds = latency_seconds

    def complete(self, request: ModelRequest) -> ModelReply:
        started = time.perf_counter()
        prompt = "\n\n".join(str(m.get("content") or "") for m in request.messages)
        answer: Any
        if request.purpose == "plan":
            answer = self._plan(prompt)
        elif request.purpose == "replan":
            answer = self._replan(prompt)
        elif request.purpose == "task":
            answer = self._deliverable(prompt)
        elif request.purpose == "review":
            answer = self._review(prompt)
        elif request.purpose == "summary":
            answer = self._summary(prompt)
        elif request.purpose == "action":
            answer = _action(prompt)
        else:
            answer = {"text": "The offline model cannot repair this answer."}
        content = json.dumps(answer) if request.json_schema is not None else _as_text(answer)
        if self.latency_seconds:
            with waiting():  # a stand-in for a real model's wait: others compute meanwhile
                time.sleep(self.latency_seconds)
        return ModelReply(
            content=content,
            model=OFFLINE_MODEL_NAME,
            prompt_tokens=estimate_tokens(prompt),
            completion_tokens=estimate_tokens(content),
            latency_ms=int((time.perf_counter() - started) * 1000),
            offline=True,
        )

    def _plan(self, prompt: str) -> dict[str, Any]:
        goal = _section(prompt, "GOAL") or "the goal"
        roster = _roster(prompt)
        limit_match = re.search(r"at most (\d+) tasks", prompt)
        limit = int(limit_match.group(1)) if limit_match else len(_STEPS)
        steps = list(_STEPS)
        while len(steps) > max(limit, 1):
            # Drop the least essential steps first, keeping dependencies consistent.
            drop = next((s for s in ("review", "operate", "promote", "targets")
                         if any(x.key == s for x in steps)), steps[-1].key)
            steps = [s for s in steps if s.key != drop]
        kept = {s.key for s in steps}
        g = _short(goal)
        tasks = [
            {
                "key": s.key,
                "title": s.title,
                "agent": _pick_agent(s.archetype, roster),
                "instructions": s.instructions.format(g=g),
                "depends_on": [d for d in s.depends_on if d in kept],
                "estimated_credits": s.credits,
                "requires_approval": False,
            }
            for s in steps
        ]
        return {
            "rationale": f"Offline plan for “{g}”: research and targets run in parallel, "
            "then drafting and promotion, then an operational checklist and a final review.",
            "tasks": tasks,
        }

    def _replan(self, prompt: str) -> dict[str, Any]:
        """Plan the failed and remaining work again under fresh keys, same agents."""
        roster = [slug for slug, _ in _roster(prompt)]
        taken = {k.strip() for k in _section(prompt, "KEYS IN USE").split(",") if k.strip()}
        done = {m.group(1) for m in re.finditer(r"^- ([a-z0-9_-]+) \(", _section(prompt, "DONE"),
                                                  re.M)}
        work = [m.groups() for m in re.finditer(
            r"^- ([a-z0-9_-]+) \(([a-z0-9_-]+)\): (.*?) — (.*?)(?: \| needs: (.*))?$",
            _section(prompt, "FAILED") + "\n" + _section(prompt, "REMAINING"), re.M)]

        def fresh(key: str) -> str:
            n = 2
            while f"{key[:36]}-r{n}" in taken:
                n += 1
            return f"{key[:36]}-r{n}"

        new_keys = {key: fresh(key) for key, *_ in work}
        tasks = []
        for key, agent, title, detail, needs in work:
            deps = [d.strip() for d in (needs or "").split(",") if d.strip()]
            tasks.append({
                "key": new_keys[key],
                "title": title[:200],
                "agent": agent if agent in roster else (roster[0] if roster else agent),
                "instructions": f"Second try, in smaller steps: {detail}"[:4000],
                "depends_on": [new_keys.get(d, d) for d in deps if d in new_keys or d in done],
                "estimated_credits": 2,
                "requires_approval": False,
            })
        return {"rationale": "Offline re-plan: the unfinished work again, in smaller steps.",
                "tasks": tasks}

    def _deliverable(self, prompt: str) -> dict[str, Any]:
        task = _section(prompt, "TASK") or "the task"
        goal = _section(prompt, "GOAL") or "the goal"
        instructions = _section(prompt, "INSTRUCTIONS")
        inputs = _section(prompt, "INPUTS")
        # The section's first line is the prompt's own words ("… Address it:"); the
        # operator's feedback follows it.
        feedback = _section(prompt, "FEEDBACK").partition("\n")[2]
        titles = _doc_titles(inputs)
        files = _file_lines(_section(prompt, "FILES"))
        lines = [f"## {task}", "", OFFLINE_BANNER, "", f"**Goal:** {goal}", ""]
        if instructions:
            lines += ["**What was asked:** " + " ".join(instructions.split()), ""]
        if files:
            lines += ["### Files used", *[f"- {f}" for f in files], ""]
        if titles:
            lines += ["### Built on", *[f"- {t}" for t in titles], ""]
        if feedback:
            addressed = " ".join(feedback.split())
            lines += ["### Changes after feedback", f"- Addressed: {addressed}", ""]
        lines += [
            "### Proposal",
            f"1. Start from the operator's goal: {_short(goal, 120)}.",
            "2. Keep the first version small enough to ship this week.",
            "3. Name one owner and one measure of success for each part.",
            "",
            "### Next steps",
            "- [ ] Operator reads this and approves or sends feedback",
            "- [ ] Connect a real model for richer drafts (see README: Models)",
        ]
        note = (f"Offline draft for “{_short(task, 80)}”"
                + (f", built on {len(titles)} input(s)" if titles else "")
                + (", revised after feedback" if feedback else "") + ".")
        return {"deliverable": "\n".join(lines), "note": note, "files": []}

    def _review(self, prompt: str) -> dict[str, str]:
        deliverable = _section(prompt, "DELIVERABLE")
        if len(deliverable.strip()) < 40:
            return {"verdict": "revise",
                    "feedback": "The deliverable is too thin: expand it into concrete steps."}
        return {"verdict": "accept", "feedback": "Meets the task's instructions."}

    def _summary(self, prompt: str) -> dict[str, str]:
        goal = _section(prompt, "GOAL") or "the goal"
        results = _section(prompt, "RESULTS")
        titles = _doc_titles(results)
        lines = [f"**{_short(goal, 120)}** is complete.", "", OFFLINE_BANNER, ""]
        if titles:
            lines += ["What the team delivered:", *[f"- {t}" for t in titles]]
        return {"summary": "\n".join(lines)}


_TOOL_LINE = re.compile(r"^- (\S+): (.*)$")
_ARGS_LINE = re.compile(r"^\s+ARGS (\S+): (\{.*\})\s*$")
_URL = re.compile(r"https?://[^\s\"'<>()\[\]]+")


def _first_url(prompt: str) -> str:
    """The first http(s) URL the goal, the task or its instructions mention ("" if none)."""
    for name in ("GOAL", "TASK", "INSTRUCTIONS"):
        found = _URL.search(_section(prompt, name))
        if found:
            return found.group(0).rstrip(".,;:!?")
    return ""


def _arguments(schema: dict[str, Any], task: str, url: str) -> dict[str, Any] | None:
    """Arguments from a tool's schema: a URL argument gets the URL the goal names (no URL:
    None, the tool is not called), numbers 1, booleans false, text the task's title."""
    filler = {"integer": 1, "number": 1, "boolean": False}
    arguments: dict[str, Any] = {}
    for key, spec in schema.get("properties", {}).items():
        if not isinstance(spec, dict):
            continue
        if key == "url" or spec.get("format") == "uri":
            if not url:
                return None
            arguments[key] = url
        else:
            arguments[key] = filler.get(str(spec.get("type")), task)
    return arguments


def _action(prompt: str) -> dict[str, Any]:
    """The first tool that runs without the operator's approval and was not called yet,
    with arguments filled from its schema (``_arguments``); then none."""
    called = set(re.findall(r"^- CALLED (\S+) ", _section(prompt, "RESULTS"), re.M))
    task = _short(_section(prompt, "TASK") or "the task", 80)
    url = _first_url(prompt)
    schemas: dict[str, dict[str, Any]] = {}
    candidates: list[str] = []
    for line in _section(prompt, "TOOLS").splitlines():
        tool, args = _TOOL_LINE.match(line), _ARGS_LINE.match(line)
        if tool and "operator approves" not in tool.group(2):
            candidates.append(tool.group(1))
        elif args:
            try:
                schemas[args.group(1)] = json.loads(args.group(2))
            except ValueError:
                schemas[args.group(1)] = {}
    for name in candidates:
        schema = schemas.get(name, {})
        if _reads_files(schema):
            pages = _next_page(prompt, name)
            if pages is not None:
                return {"tool": name, "arguments": pages,
                        "reason": "The offline model reads the goal's first attached file, "
                                  "page by page."}
            continue
        arguments = _arguments(schema, task, url)
        if name not in called and arguments is not None:
            return {"tool": name, "arguments": arguments,
                    "reason": "The offline model tries each tool it may use once."}
    return {"tool": "none", "arguments": {}, "reason": "Nothing left to look up."}


def _reads_files(schema: dict[str, Any]) -> bool:
    """A tool that reads a named file page by page (its arguments: ``name`` and ``page``)."""
    return set(schema.get("properties", {})) == {"name", "page"}


def _next_page(prompt: str, tool: str) -> dict[str, Any] | None:
    """The first attached file's first page, then each next page its last answer offers
    ("page N of M"); None once it is read, or when the goal has no attached file."""
    attached = re.findall(r"^- (.+) \(attached\)$", _section(prompt, "FILES"), re.M)
    if not attached:
        return None
    read = re.findall(rf"^- CALLED {re.escape(tool)} .*?: “(.+?)” \((?:attached|knowledge)\)"
                      r" · page (\d+) of (\d+) · ", _section(prompt, "RESULTS"), re.M)
    calls = len(re.findall(rf"^- CALLED {re.escape(tool)} ", _section(prompt, "RESULTS"),
                           re.M))
    if calls != len(read):  # an answer without a page: stop rather than ask again
        return None
    if not read:
        return {"name": attached[0], "page": 1}
    name, page, pages = read[-1]
    return {"name": name, "page": int(page) + 1} if int(page) < int(pages) else None


def _as_text(answer: Any) -> str:
    if isinstance(answer, dict):
        for key in ("deliverable", "summary", "text"):
            if key in answer:
                return str(answer[key])
    return json.dumps(answer)
