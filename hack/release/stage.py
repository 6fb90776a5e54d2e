"""The source a release builds: one commit's files, copied out, with the version stamped.

A release is of a commit, never of the work tree: ``git archive`` writes the commit's
files into build/release/, so uncommitted edits cannot reach an artifact and the commit
that ``obreg --version`` names is exactly what was built. The version named to
``make release`` is stamped into that copy only (pyproject.toml's version, which becomes
the wheel's and so ``obreg --version``'s; Chart.yaml's version and appVersion; values'
image tag and digest), so the committed tree never changes. Its own pyproject.toml and
Chart.yaml say the version of the last release, which tests/unit/test_release.py holds
equal.
"""

from __future__ import annotations

import dataclasses
import re
import subprocess
import tarfile
from pathlib import Path

# semver.org's own expression for a version (2.0.0), without a leading "v".
SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
COMMIT_FILE = Path("operator/obreg/_commit.py")


class StampError(ValueError):
    pass


def check_semver(version: str) -> str:
    if not SEMVER.match(version):
        raise StampError(
            f"VERSION={version!r} is not a semantic version (x.y.z, optionally -pre and "
            "+build, no leading v): https://semver.org"
        )
    return version


@dataclasses.dataclass(frozen=True)
class Source:
    root: Path
    commit: str  # the full hash
    epoch: int  # the commit's time, for reproducible file times in the artifacts


def export(repo: Path, ref: str, dest: Path) -> Source:
    """The commit's tracked files in ``dest`` (which must not exist yet)."""
    commit = _git(repo, "rev-parse", "--verify", f"{ref}^{{commit}}")
    epoch = int(_git(repo, "show", "-s", "--format=%ct", commit))
    dest.mkdir(parents=True)
    archive = dest.parent / f"{dest.name}.tar"
    subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", "-o", str(archive), commit], check=True
    )
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    archive.unlink()
    return Source(dest, commit, epoch)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def _replace(path: Path, pattern: str, new: str, after: str | None = None) -> None:
    """Replace the first line matching ``pattern`` (after the line matching ``after``):
    a line edit, so the file's comments and layout stay as committed."""
    text = path.read_text()
    start = 0
    if after is not None:
        anchor = re.search(after, text, re.MULTILINE)
        if not anchor:
            raise StampError(f"{path.name}: no line matching {after!r}")
        start = anchor.end()
    match = re.compile(pattern, re.MULTILINE).search(text, start)
    if not match:
        raise StampError(f"{path.name}: no line matching {pattern!r} to stamp")
    path.write_text(text[: match.start()] + new + text[match.end() :])


def stamp_version(source: Source, version: str) -> None:
    """The version into pyproject.toml and Chart.yaml, the commit into the package."""
    root = source.root
    pyproject = root / "pyproject.toml"
    _replace(pyproject, r'^version = ".*"$', f'version = "{version}"', r"^\[project\]$")
    chart = root / "charts" / "obreg" / "Chart.yaml"
    _replace(chart, r"^version: .*$", f"version: {version}")
    _replace(chart, r"^appVersion: .*$", f'appVersion: "{version}"')
    (root / COMMIT_FILE).write_text(
        '"""Written by make release: the commit this build is of."""\n\n'
        f'COMMIT = "{source.commit}"\n'
    )


def pin_image(source: Source, version: str, digest: str) -> None:
    """values.yaml's image: the tag the version, pinned by the built image's digest."""
    values = source.root / "charts" / "obreg" / "values.yaml"
    _replace(values, r"^  tag: .*$", f'  tag: "{version}"', r"^image:$")
    _replace(values, r"^  digest: .*$", f'  digest: "{digest}"', r"^image:$")
