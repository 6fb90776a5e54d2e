"""Every relative link of README.md and docs/*.md leads somewhere: to a file or folder of
the repository, and where it names a heading (``#anchor``), to a heading of that page,
spelled as GitHub spells anchors. A guide moved or a heading renamed breaks the build, not
the reader. The copies of gitops/ files that docs/gitops.md shows are the files' own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```$", re.MULTILINE | re.DOTALL)
CODE = re.compile(r"`[^`\n]*`")


def prose(text: str) -> str:
    """The text without code blocks and inline code, where brackets are not links."""
    return CODE.sub("", FENCE.sub("", text))


def anchors(page: Path) -> set[str]:
    """GitHub's anchors of a page's headings: lower case, inline code marks and
    punctuation but hyphens and underscores dropped, spaces made hyphens; a repeated
    heading gets -1, -2, ..."""
    seen: dict[str, int] = {}
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *$", FENCE.sub("", page.read_text()), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def links(page: Path) -> list[str]:
    return [
        target
        for target in LINK.findall(prose(page.read_text()))
        if not re.match(r"[a-z]+:", target)  # https:, mailto: are not checked here
    ]


def test_the_pages_have_relative_links_to_check() -> None:
    assert (ROOT / "docs" / "operating.md") in PAGES
    assert len(links(ROOT / "README.md")) >= 10


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    broken = []
    for target in links(page):
        path, _, anchor = target.partition("#")
        destination = (page.parent / path).resolve() if path else page
        if not destination.exists():
            broken.append(f"{target}: no {destination.relative_to(ROOT)}")
        elif anchor and anchor not in anchors(destination):
            broken.append(f"{target}: no heading #{anchor}")
        elif not destination.is_relative_to(ROOT):
            broken.append(f"{target}: outside the repository")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_anchors_follow_githubs_spelling(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# Rendering offline: `obreg render`\n## Real pods (make e2e-real)\n"
        "## Notes\n## Notes\n```\n# not a heading\n```\n"
    )
    assert anchors(page) == {
        "rendering-offline-obreg-render",
        "real-pods-make-e2e-real",
        "notes",
        "notes-1",
    }


def test_the_argo_cd_ignore_differences_shown_are_the_applications() -> None:
    shown = re.search(r"```yaml\n(.*?)```", (ROOT / "docs" / "gitops.md").read_text(), re.S)
    assert shown is not None
    snippet = yaml.safe_load(re.sub(r"^  ", "", shown[1], flags=re.M))
    application = ROOT / "gitops" / "argocd" / "application.yaml"
    spec = yaml.safe_load(application.read_text())["spec"]
    assert snippet == {k: spec[k] for k in ("ignoreDifferences", "syncPolicy")}
