"""What ``obreg --version`` says: the package's version and the commit it was built from.

The version is the installed package's (``make release`` stamps the one named to it into
the build's pyproject.toml, chart and image tag alike). The commit is baked into a
release's wheel and image as ``obreg/_commit.py``; without one, obreg running from a
checkout asks git, and anything else says it does not know. Both are looked up only when
asked for, so no other command pays for a git call.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

COMMIT_MODULE = "obreg._commit"  # written by make release into its build copy only
UNKNOWN = "unknown"


def package_version() -> str:
    try:
        return importlib.metadata.version("obreg")
    except importlib.metadata.PackageNotFoundError:
        return UNKNOWN


def commit() -> str:
    """The baked-in commit, else the checkout's HEAD (``-dirty`` with uncommitted changes)."""
    try:
        return str(importlib.import_module(COMMIT_MODULE).COMMIT)
    except ImportError:
        return _checkout_commit() or UNKNOWN


def _checkout_commit() -> str | None:
    # Only for the source tree itself (operator/obreg beside pyproject.toml): a package
    # installed into a venv that happens to sit inside some git work tree is not that
    # tree's commit.
    root = Path(__file__).resolve().parents[2]
    if Path(__file__).resolve().parents[1].name != "operator" or not (
        root / "pyproject.toml"
    ).is_file():
        return None
    try:
        head = _git(root, "rev-parse", "HEAD")
        changed = _git(root, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{head}-dirty" if changed else head


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def describe() -> str:
    return f"obreg {package_version()} (commit {commit()})"


class PrintVersion(argparse.Action):
    """``--version``: argparse's own action takes the text when the parser is built."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print obreg's version and commit")

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        print(describe())
        sys.exit(0)
