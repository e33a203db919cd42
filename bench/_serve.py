"""``uvicorn bench._serve:app``: the real app without the in-process job runner, so a
benchmark's data is not changed by background work while it is measured."""

from __future__ import annotations

from web4os.app import create_app

app = create_app(start_worker=False)
