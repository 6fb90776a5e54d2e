"""make release's version plumbing and release notes, without building anything: the
version named once reaches the package, the chart and ``obreg --version``; a version that
is not semver is refused; CHANGELOG.md's sections are extracted and must say whether
rendered files change. tests/real/test_release.py runs the whole release."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest
import yaml

from obreg import version
from release import changelog, stage

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "obreg"


@pytest.mark.parametrize("good", ["0.2.0", "1.0.0-rc.1", "10.20.30+build.5", "1.0.0-alpha-a.b"])
def test_semantic_versions_are_accepted(good: str) -> None:
    assert stage.check_semver(good) == good


@pytest.mark.parametrize("bad", ["", "v0.2.0", "0.2", "0.2.0.1", "01.2.0", "0.2.0-", "latest"])
def test_anything_else_is_refused_naming_it(bad: str) -> None:
    with pytest.raises(stage.StampError, match="is not a semantic version"):
        stage.check_semver(bad)


def test_the_committed_tree_says_one_version() -> None:
    """The tree's pyproject.toml and Chart.yaml (the last release's version, which
    make release never edits) agree, so a build from the tree is consistent too."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["version"] == project
    assert chart["appVersion"] == project


def test_the_version_is_stamped_into_a_copy_only(tmp_path: Path) -> None:
    before = {p: (ROOT / p).read_bytes() for p in ("pyproject.toml", "charts/obreg/Chart.yaml")}
    source = stage.export(ROOT, "HEAD", tmp_path / "src")
    stage.stamp_version(source, "7.8.9-rc.1")
    stage.pin_image(source, "7.8.9-rc.1", "sha256:" + "ab" * 32)

    project = tomllib.loads((source.root / "pyproject.toml").read_text())["project"]
    assert project["version"] == "7.8.9-rc.1"
    chart = yaml.safe_load((source.root / "charts/obreg/Chart.yaml").read_text())
    assert (chart["version"], chart["appVersion"]) == ("7.8.9-rc.1", "7.8.9-rc.1")
    image = yaml.safe_load((source.root / "charts/obreg/values.yaml").read_text())["image"]
    assert (image["tag"], image["digest"]) == ("7.8.9-rc.1", "sha256:" + "ab" * 32)
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert source.commit == head
    assert f'COMMIT = "{head}"' in (source.root / stage.COMMIT_FILE).read_text()
    assert {p: (ROOT / p).read_bytes() for p in before} == before


CHANGELOG = """# Changelog

## [Unreleased]

Rendered files: changed.

- site.json gains a field.

## [1.1.0] - 2026-12-01

Rendered files: unchanged.

- A fix.

## [1.0.0] - 2026-11-01

- Nothing said about rendered files.

[1.1.0]: https://example.invalid/compare/1.0.0...1.1.0
"""


def test_a_versions_own_section_is_its_notes() -> None:
    notes, verdict = changelog.notes(CHANGELOG, "1.1.0")
    assert notes == "# obreg 1.1.0\n\nRendered files: unchanged.\n\n- A fix.\n"
    assert verdict == "unchanged"


def test_a_version_not_yet_named_gets_the_unreleased_section_saying_so() -> None:
    notes, verdict = changelog.notes(CHANGELOG, "1.2.0")
    assert "CHANGELOG.md names no 1.2.0 yet" in notes
    assert "site.json gains a field" in notes and "A fix" not in notes
    assert verdict == "changed"


def test_a_section_silent_on_rendered_files_is_refused() -> None:
    with pytest.raises(changelog.ChangelogError, match="1.0.0 section does not say"):
        changelog.notes(CHANGELOG, "1.0.0")


def test_no_section_and_no_unreleased_is_refused() -> None:
    with pytest.raises(changelog.ChangelogError, match="no section for 2.0.0"):
        changelog.notes(CHANGELOG.replace("[Unreleased]", "[1.2.0]"), "2.0.0")


def test_the_projects_changelog_says_it_for_every_version() -> None:
    sections = changelog.sections((ROOT / "CHANGELOG.md").read_text())
    assert changelog.UNRELEASED in sections and "0.1.0" in sections
    for name, body in sections.items():
        assert changelog.rendered(body, name) in ("changed", "unchanged", "first")


def test_version_names_the_baked_commit(monkeypatch: pytest.MonkeyPatch) -> None:
    baked = types.ModuleType(version.COMMIT_MODULE)
    baked.COMMIT = "0123456789abcdef0123456789abcdef01234567"  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, version.COMMIT_MODULE, baked)
    assert version.describe() == (
        f"obreg {version.package_version()} (commit 0123456789abcdef0123456789abcdef01234567)"
    )


def test_version_from_a_checkout_names_its_head() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "obreg.cli", "--version"], capture_output=True, text=True,
        check=True,
    ).stdout  # fmt: skip
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert printed.startswith(f"obreg {version.package_version()} (commit {head}")
