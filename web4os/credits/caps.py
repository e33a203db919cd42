"""Credit caps as an owner types them: one parser, one bound, for goals and agents."""

from __future__ import annotations

from web4os.errors import InvalidInput

MAX_CAP = 10_000_000


def parse_cap(raw: str | int | None, *, field: str = "credit_cap") -> int | None:
    """A cap from a form: empty means none; otherwise a whole number of credits ≥ 1."""
    if raw is None:
        return None
    text = str(raw).strip().replace(",", "").replace("_", "")
    if not text:
        return None
    if not text.isdigit() or not 1 <= int(text) <= MAX_CAP:
        raise InvalidInput(f"Enter a whole number of credits from 1 to {MAX_CAP:,}, or leave it "
                           "empty for no cap.", field=field)
    return int(text)
