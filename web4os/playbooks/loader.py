"""Reading a playbook safely: bounded YAML, no aliases, errors that name line and field.

The text is size-checked first; then libyaml's event stream is walked once, refusing any
alias (a "billion laughs" document expands aliases into millions of nodes) and counting
nodes and depth, all before a single object is built. Only then is the node tree composed
and built with the safe constructor (plain scalars, lists and maps, no Python objects),
and checked by the pydantic models. Each error's path is mapped back to the line of
the node it is about.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from web4os.errors import InvalidInput
from web4os.playbooks.schemas import VERSION, Playbook

MAX_TEXT_BYTES = 2_000_000  # a document without embedded files
MAX_EMBEDDED_BYTES = 20_000_000  # what embedded files may add (base64 of about 15 MB)
MAX_BYTES = MAX_TEXT_BYTES + MAX_EMBEDDED_BYTES
MAX_NODES = 50_000
MAX_DEPTH = 12
MAX_ERRORS = 20

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a document: where (line, field path) and what."""

    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}, " if self.line else ""
        return f"{where}{self.field or 'playbook'}: {self.message}"


class PlaybookInvalid(InvalidInput):
    """The document cannot be imported; ``problems`` says each reason with its line."""

    def __init__(self, problems: list[Problem]) -> None:
        shown = problems[:MAX_ERRORS]
        super().__init__("; ".join(str(p) for p in shown[:3])
                         + (f" (and {len(shown) - 3} more)" if len(shown) > 3 else ""),
                         field="playbook")
        self.problems = shown


def field_path(path: Path) -> str:
    """``("roster", 2, "instructions")`` → ``roster[2].instructions``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class Document:
    """A checked playbook and the line of each of its nodes, by path."""

    playbook: Playbook
    lines: dict[Path, int]

    def line_of(self, path: Path) -> int | None:
        """The line of the nearest node on ``path`` (a missing key: its parent's)."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.lines:
                return self.lines[path[:end]]
        return None

    def problem(self, path: Path, message: str) -> Problem:
        return Problem(self.line_of(path), field_path(path), message)


def _refuse(message: str, line: int | None = None) -> PlaybookInvalid:
    return PlaybookInvalid([Problem(line, "", message)])


def _line(event: yaml.Event) -> int | None:
    return event.start_mark.line + 1 if event.start_mark is not None else None


def _check_events(text: str) -> None:
    """Refuse aliases and oversized trees from the event stream, before anything is built."""
    nodes = depth = 0
    try:
        for event in yaml.parse(text, Loader=Loader):
            if isinstance(event, yaml.AliasEvent | yaml.NodeEvent) and getattr(
                    event, "anchor", None) is not None:
                raise _refuse("Anchors and aliases (&name, *name) are not allowed in a "
                              "playbook; write each value out.", _line(event))
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _refuse(f"The document nests deeper than {MAX_DEPTH} levels.",
                                  _line(event))
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            if isinstance(event, yaml.NodeEvent):
                nodes += 1
                if nodes > MAX_NODES:
                    raise _refuse(f"The document has more than {MAX_NODES:,} values.",
                                  _line(event))
            elif isinstance(event, yaml.DocumentStartEvent) and nodes:
                raise _refuse("Put one playbook in the file (a second document starts "
                              "here).", _line(event))
    except yaml.reader.ReaderError as exc:
        line = text[:exc.position].count("\n") + 1 if isinstance(exc.position, int) else None
        code = f"U+{exc.character:04X}" if isinstance(exc.character, int) else "a character"
        raise _refuse(f"The file holds a control character ({code}) that a playbook "
                      "can't hold; remove it.", line) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None)
        raise _refuse(f"This is not valid YAML ({problem})." if problem else
                      "This is not valid YAML.",
                      mark.line + 1 if mark is not None else None) from None


def _lines(node: yaml.Node, path: Path, out: dict[Path, int]) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                _lines(value, (*path, str(key.value)), out)
                out[(*path, str(key.value))] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _lines(item, (*path, i), out)


def _message(err: Any) -> str:
    if err["type"] == "missing":
        return "This field is required."
    if err["type"] == "extra_forbidden":
        return "Unknown field: check its spelling, or remove it."
    return str(err["msg"]).removeprefix("Value error, ")


def load(raw: str | bytes) -> Document:
    """The checked playbook in ``raw``, or ``PlaybookInvalid`` naming line and field."""
    if len(raw) > MAX_BYTES:
        raise _refuse(f"The playbook is too large (at most {MAX_BYTES // 1_000_000} MB with "
                      "embedded files).")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _refuse("Save the playbook as UTF-8 text.") from None
    if not raw.strip():
        raise _refuse("The playbook is empty.")
    _check_events(raw)
    node = yaml.compose(raw, Loader=Loader)
    lines: dict[Path, int] = {}
    if node is not None:
        _lines(node, (), lines)
    data = yaml.load(raw, Loader=Loader)  # safe: no aliases, bounded, plain types only
    if not isinstance(data, dict):
        raise _refuse("A playbook is a map of sections starting with “playbook: 1”.", 1)
    if "playbook" not in data:
        raise _refuse("Start the playbook with its version: “playbook: 1”.", 1)
    if type(data["playbook"]) is not int or data["playbook"] != VERSION:
        raise _refuse(f"This server reads playbook version {VERSION}, not "
                      f"“{str(data['playbook'])[:20]}”.", lines.get(("playbook",)))
    listed = data.get("files")
    embedded = sum(len(str(f.get("content_base64") or "")) for f in listed
                   if isinstance(f, dict)) if isinstance(listed, list) else 0
    if len(raw) - embedded > MAX_TEXT_BYTES:
        raise _refuse(f"The playbook is too large (at most {MAX_TEXT_BYTES // 1_000_000} MB "
                      "besides embedded files).")
    try:
        playbook = Playbook.model_validate(data)
    except ValidationError as exc:
        doc = Document(Playbook(playbook=1), lines)
        raise PlaybookInvalid([doc.problem(tuple(err["loc"]), _message(err))
                               for err in exc.errors()]) from None
    return Document(playbook, lines)
