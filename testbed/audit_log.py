"""Requests from the kube-apiserver's audit log (the local plane writes one: every write,
and obreg's reads), with the user who made each. The quiet-period test counts obreg's
own writes this way: the apiserver's request metrics cannot tell obreg from the
controllers, whose events about earlier tests' deleted namespaces land at any time."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Request:
    user: str
    verb: str
    resource: str
    subresource: str
    namespace: str
    name: str
    code: int
    # A dry run (dryRun=All: Flux's drift check before each apply) changes nothing.
    dry_run: bool = False


def end(path: Path) -> int:
    """Where the log ends now: read from here to see only later writes."""
    return path.stat().st_size if path.exists() else 0


WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


def writes(path: Path, offset: int = 0) -> list[Request]:
    """The writes recorded after ``offset`` (whole lines only)."""
    return [r for r in requests(path, offset) if r.verb in WRITE_VERBS]


def requests(path: Path, offset: int = 0) -> list[Request]:
    """Every request recorded after ``offset``: the writes, and obreg's reads."""
    with path.open("rb") as log:
        log.seek(offset)
        data = log.read()
    found = []
    for line in data.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line still being written
        ref = event.get("objectRef") or {}
        found.append(
            Request(
                user=str((event.get("user") or {}).get("username", "")),
                verb=str(event.get("verb", "")),
                resource=str(ref.get("resource", "")),
                subresource=str(ref.get("subresource", "")),
                namespace=str(ref.get("namespace", "")),
                name=str(ref.get("name", "")),
                code=int((event.get("responseStatus") or {}).get("code", 0)),
                dry_run="dryRun=All" in str(event.get("requestURI", "")),
            )
        )
    return found
