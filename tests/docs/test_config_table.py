"""README's configuration table names every ``QUEUE_*`` variable ``QueueConfig.from_env``
reads, so a new setting cannot ship undocumented."""

from __future__ import annotations

import re
from dataclasses import fields

from noormme_queue import QueueConfig

from .blocks import ROOT


def test_every_queue_variable_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {m.group(1) for m in re.finditer(r"^\| `(QUEUE_[A-Z_]+)` \|", readme, re.MULTILINE)}
    wanted = {"QUEUE_" + f.name.upper() for f in fields(QueueConfig)}
    assert sorted(wanted - rows) == []
