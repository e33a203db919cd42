"""The image installs the built wheel, as a user would, not the source tree in place."""

from __future__ import annotations

import re
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parents[2] / "Dockerfile"


def test_the_image_runs_from_an_installed_wheel() -> None:
    text = DOCKERFILE.read_text()
    runs = " ".join(re.findall(r"^RUN (.*(?:\n(?!\S).*)*)", text, re.MULTILINE))
    assert "pip wheel" in runs and re.search(r"pip install\b[^&]*\.whl", runs), runs
    assert not re.search(r"pip install\b[^&]*(\s-e\s|--editable)", runs), runs
    final = text.rsplit("\nFROM ", 1)[1]
    assert "COPY --from=build" in final and not re.search(r"^COPY (?!--from)", final, re.MULTILINE)
