"""The wheel carries what the product reads at run time: every template, static file and
migration, inside the package, where :func:`web4os.resources.resource_dir` finds them
without the source tree. ``.ci/wheel_smoke.py`` then runs the installed wheel for real."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from tests.conftest import IS_POSTGRES
from web4os.migrate import alembic_config
from web4os.resources import SHIPPED

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(IS_POSTGRES, reason="packaging does not depend on the database "
                                "(the SQLite pass checks it)")


def _source_files(name: str) -> set[str]:
    return {f"web4os/{p.relative_to(REPO).as_posix()}" for p in (REPO / name).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                           str(REPO)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    [built] = out.glob("web4os-*.whl")
    return built


def test_the_wheel_holds_every_template_static_file_and_migration(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in SHIPPED:
        expected = _source_files(shipped)
        assert expected, f"nothing under {shipped}/ in the checkout"
        assert expected <= names, f"missing from the wheel: {sorted(expected - names)[:10]}"
    assert {"web4os/alembic/env.py", "web4os/templates/base.html",
            "web4os/static/app.css"} <= names
    # nothing of the checkout lands beside the package in site-packages
    dist_info = "-".join(wheel.name.split("-")[:2]) + ".dist-info"
    stray = sorted(n for n in names if n.split("/")[0] not in ("web4os", dist_info))
    assert stray == [], stray


def test_the_wheel_holds_the_playbook_schema_and_starters(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    starters = {f"web4os/playbooks/starters/{p.name}"
                for p in (REPO / "web4os/playbooks/starters").glob("*.yaml")}
    assert len(starters) == 3 and starters <= names
    assert "web4os/playbooks/schema.json" in names


def test_an_unpacked_wheel_finds_its_files_inside_the_package(wheel: Path, tmp_path: Path) -> None:
    """Imported from the wheel's files alone (ahead of the checkout on the path), the
    package answers with its own directories, and the templates and migrations load."""
    zipfile.ZipFile(wheel).extractall(tmp_path)
    probe = ("from web4os.resources import resource_dir\n"
             "from web4os.web.templating import templates\n"
             "from web4os.migrate import alembic_config\n"
             "from alembic.script import ScriptDirectory\n"
             "for name in ('templates', 'static', 'alembic'): print(resource_dir(name))\n"
             "templates.get_template('base.html')\n"
             "print(ScriptDirectory.from_config(alembic_config('sqlite://')).get_current_head())\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    *dirs, head = done.stdout.split()
    assert dirs == [str(tmp_path / "web4os" / name) for name in SHIPPED]
    assert head == ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
