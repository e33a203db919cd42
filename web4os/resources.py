"""Where the files that are not Python live: templates, static files, Alembic migrations.

The repository keeps ``templates/``, ``static/`` and ``alembic/`` at its top level; the
wheel carries them inside the package (``pyproject.toml``'s ``force-include``). An installed
wheel finds them through :mod:`importlib.resources`, a source checkout or editable install
beside the package. Jinja2, StaticFiles and Alembic all want a real directory, and a wheel
installs unzipped, so a directory is what this answers.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

SHIPPED = ("templates", "static", "alembic")


class ResourceMissing(RuntimeError):
    """The installation lacks one of the shipped directories (a broken build)."""


def resource_dir(name: str) -> Path:
    """The directory ``name`` (one of :data:`SHIPPED`) of this installation."""
    if name not in SHIPPED:
        raise ValueError(f"not a shipped directory: {name!r}")
    packaged = files("web4os").joinpath(name)
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parent.parent / name
    if (checkout.parent / "pyproject.toml").is_file() and checkout.is_dir():
        return checkout
    raise ResourceMissing(f"web4os cannot find its {name}/ directory: looked in {packaged} "
                          f"and {checkout}. Reinstall the package from a complete wheel.")
