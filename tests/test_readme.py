"""The README stands alone: every link it gives points inside the repository, and exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_links_stay_inside_the_repository_and_exist() -> None:
    text = (ROOT / "README.md").read_text()
    assert "../" not in text
    targets = re.findall(r"\]\(([^)#]+)\)", text)
    local = [t for t in targets if not t.startswith(("http://", "https://"))]
    assert local, "the README links its own docs"
    missing = [t for t in local if not (ROOT / t).exists()]
    assert missing == []
