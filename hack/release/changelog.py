"""CHANGELOG.md's sections: the release notes of one version, and what an upgrade rolls.

Keep a Changelog's layout: ``## [Unreleased]``, then ``## [x.y.z] - date`` newest first.
Every section says on a line of its own whether the files obreg renders change against the
previous version (``Rendered files: changed``, ``unchanged``, or ``first`` for the first
version), because an upgrade rolls the products' pods exactly when they do; a section
without that line is refused, so no version ships without saying it.
"""

from __future__ import annotations

import re
from typing import Literal

UNRELEASED = "Unreleased"
_HEADING = re.compile(r"^## \[(?P<name>[^\]]+)\](?P<rest>.*)$", re.MULTILINE)
_RENDERED = re.compile(r"^Rendered files: (?P<verdict>changed|unchanged|first)\b", re.MULTILINE)

Rendered = Literal["changed", "unchanged", "first"]


class ChangelogError(ValueError):
    pass


def sections(text: str) -> dict[str, str]:
    """Each section's body (heading excluded, trimmed), by its name: a version or
    ``Unreleased``; link definitions at the end (``[0.1.0]: ...``) are not a body's."""
    found: dict[str, str] = {}
    headings = list(_HEADING.finditer(text))
    for heading, following in zip(headings, [*headings[1:], None], strict=True):
        end = following.start() if following else len(text)
        body = text[heading.end() : end]
        body = re.split(r"^\[[^\]]+\]: ", body, maxsplit=1, flags=re.MULTILINE)[0]
        name = heading["name"]
        if name in found:
            raise ChangelogError(f"CHANGELOG.md has two sections for {name}")
        found[name] = body.strip()
    return found


def rendered(body: str, name: str) -> Rendered:
    match = _RENDERED.search(body)
    if not match:
        raise ChangelogError(
            f"CHANGELOG.md's {name} section does not say whether rendered files change: "
            "it needs a line 'Rendered files: changed', 'unchanged' or 'first'"
        )
    verdict: Rendered = match["verdict"]  # type: ignore[assignment]
    return verdict


def notes(text: str, version: str) -> tuple[str, Rendered]:
    """The release notes of ``version`` and its verdict on rendered files: its own section,
    or, while it has none yet, the Unreleased one (a release made before the CHANGELOG
    names it, e.g. a release candidate's test), said so in the notes."""
    found = sections(text)
    if version in found:
        body, source = found[version], version
    elif UNRELEASED in found:
        body, source = found[UNRELEASED], UNRELEASED
    else:
        raise ChangelogError(f"CHANGELOG.md has no section for {version} and no Unreleased one")
    verdict = rendered(body, source)
    title = f"# obreg {version}\n\n"
    if source == UNRELEASED:
        title += f"(CHANGELOG.md names no {version} yet: these are its Unreleased changes.)\n\n"
    return title + body + "\n", verdict
