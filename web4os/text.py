"""The one rule for the characters text from people may hold, as a pydantic type.

Every text field of a JSON body (``Text`` in the schemas) and of a form (``check_form``)
is held to it, so a new field is covered by using the type, not by a patch of its own.
Refused: a lone UTF-16 surrogate (no database can store it), NUL and the other C0
controls (tab, newline and carriage return stay: single-line fields fold them into
spaces), and the bidirectional embedding, override and isolate controls, which can make
text look like something else where it is shown. Text that holds such controls anyway
(stored before, or written by a model) is shown isolated (``isolated``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated

from pydantic import BeforeValidator, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from web4os.errors import InvalidInput

_REFUSED = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
_ISOLATE_OPENERS, _PDI, _FSI = "\u2066\u2067\u2068", "\u2069", "\u2068"


def refusal(text: str) -> str | None:
    """Why ``text`` cannot be taken, in words for the person who sent it; None if it can."""
    found = _REFUSED.search(text)
    if found is None:
        return None
    code = f"U+{ord(found.group()):04X}"
    if "\ud800" <= found.group() <= "\udfff":
        return (f"This text has a broken character ({code}, half of a UTF-16 pair); "
                "send it as valid Unicode.")
    if found.group() < " ":
        return f"This text has a control character ({code}) that can't be stored; remove it."
    return (f"This text has a hidden text-direction control ({code}) that can disguise "
            "what it says; remove it.")


def _checked(value: object) -> object:
    problem = refusal(value) if isinstance(value, str) else None
    if problem is not None:
        raise PydanticCustomError("text_refused", problem)
    return value


Text = Annotated[str, BeforeValidator(_checked)]
"""A ``str`` held to the rule above; its refusal is a validation error on the field.
(Checked before pydantic's own checks, which refuse a lone surrogate in less clear words
when a length limit is set.)"""


def _checked_deep(value: object) -> object:
    if isinstance(value, dict):
        for key, item in value.items():
            _checked_deep(key)
            _checked_deep(item)
    elif isinstance(value, list):
        for item in value:
            _checked_deep(item)
    else:
        _checked(value)
    return value


TEXT_TREE = BeforeValidator(_checked_deep)
"""For JSON of any shape (e.g. a tool call's arguments): every string and key in it is
held to the rule. Use as ``Annotated[dict[str, Any], TEXT_TREE]``."""

_FORM: TypeAdapter[dict[str, Text]] = TypeAdapter(dict[str, Text])


class TextRefused(InvalidInput):
    """A form field breaks the rule: ``reason`` goes beside the field, the message (which
    names the field) above the form or on an error page, so a hidden field is named too."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"Nothing was saved: the field “{field}” is refused. {reason}",
                         field=field)
        self.reason = reason


def check_form(values: Mapping[str, str]) -> None:
    """Refuse a posted form whose fields break the rule, naming the first such field."""
    try:
        _FORM.validate_python(dict(values))
    except ValidationError as exc:
        err = exc.errors()[0]
        raise TextRefused(str(err["loc"][0]), err["msg"]) from None


def check_tree(value: object, field: str) -> None:
    """Refuse JSON posted in form field ``field`` whose strings break the rule (escapes
    such as ``\\u0000`` pass ``check_form`` and only decode to controls here)."""
    try:
        _checked_deep(value)
    except PydanticCustomError as exc:
        raise TextRefused(field, str(exc)) from None


def isolated(text: str) -> str:
    """``text`` as an isolate (FSI … PDI) if it holds direction controls, so text already
    stored, or written by a model, cannot reorder what is shown after it.

    The isolate is balanced: an isolate the text leaves open is closed inside it (a PDI
    also ends the embeddings and overrides opened within), and each stray PDI, which
    would end the isolate early, gets an isolate of its own to close.
    """
    if not BIDI_CONTROLS.search(text):
        return text
    open_isolates = strays = 0
    for ch in BIDI_CONTROLS.findall(text):
        if ch in _ISOLATE_OPENERS:
            open_isolates += 1
        elif ch == _PDI:
            if open_isolates:
                open_isolates -= 1
            else:
                strays += 1
    return _FSI * (1 + strays) + text + _PDI * (1 + open_isolates)


_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
Json = None | bool | int | float | str | list["Json"] | dict[str, "Json"]


def storable(value: Json) -> Json:
    """``value`` with every string made storable: a lone surrogate becomes U+FFFD and the
    C0 controls but tab and line breaks are dropped. For text nobody typed (a model's
    answer), which web4os keeps rather than refuses; direction controls stay and are
    shown isolated."""
    if isinstance(value, str):
        return _UNSTORABLE.sub(lambda m: "\ufffd" if m.group() >= "\ud800" else "", value)
    if isinstance(value, list):
        return [storable(v) for v in value]
    if isinstance(value, dict):
        return {str(storable(k)): storable(v) for k, v in value.items()}
    return value
