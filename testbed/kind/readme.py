"""The README's kind block: the commands a user with Docker, kind and Helm runs to try
obreg from a clone. ``make e2e-kind`` runs them as written, the first (``kind create
cluster``) to make the tier's cluster and the rest in tests/real/test_kind_readme.py,
so the path the README gives is the one tested."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
MARK = "<!-- kind: make e2e-kind runs this block as written -->"


def commands() -> list[str]:
    """The block's commands in order, each as written: its lines, a line ending in ``\\``
    continued on the next as the shell continues it. Comments stay in the text they are
    on (the shell skips them); a line that is only a comment is no command."""
    text = README.read_text()
    found = re.findall(re.escape(MARK) + r"\n```sh\n(.*?)```", text, re.DOTALL)
    if len(found) != 1:
        raise LookupError(f"{README}: expected one block after {MARK!r}, found {len(found)}")
    listed: list[str] = []
    pending: list[str] = []
    for line in found[0].splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending.append(line)
        if not line.endswith("\\"):
            listed.append("\n".join(pending))
            pending = []
    if pending:
        raise LookupError(f"{README}: the kind block ends inside a command: {pending[-1]!r}")
    return listed
