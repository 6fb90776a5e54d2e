"""What of the host the real-node tier must leave as it found it: the firewall rules
(IPv4 and IPv6, legacy and nf_tables), the forwarding settings, the installed packages,
the addresses and the routes. tests/real snapshots them when its session starts and
compares after the node's teardown, so a rule, an address or a setting the node leaves
behind fails the tier itself, whatever ``leftovers`` (which looks for the node's own
names only) knows of.

Each source is normalised to lines that stay equal while the host's state does: the
counters and save tools' comment lines change on every run, and so do dynamic
addresses' lifetimes."""

from __future__ import annotations

import difflib
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

Snapshot = dict[str, list[str]]

_COUNTERS = re.compile(r"\s*\[\d+:\d+\]$")
_LIFETIMES = re.compile(r"\s+(valid|preferred)_lft \S+")


def normalise_iptables(save: str) -> list[str]:
    """``iptables-save`` output without its comments (dates) and counters. A table with no
    rule and only ACCEPT policies is left out: listing a table creates it (with nf_tables)
    and so does any tool that merely looks, while its filtering is that of no table."""
    lines: list[str] = []
    table: list[str] = []
    for raw in save.splitlines():
        line = _COUNTERS.sub("", raw.rstrip())
        if not line or line.startswith("#"):
            continue
        if line.startswith("*"):
            table = [line]
        elif line == "COMMIT":
            chains = [t.split() for t in table[1:] if t.startswith(":")]
            untouched = len(chains) == len(table) - 1 and all(
                len(c) > 1 and c[1] == "ACCEPT" for c in chains
            )
            if not untouched:
                lines += [*table, line]
            table = []
        else:
            table.append(line)
    return lines + table  # a table without COMMIT (a cut-off output) is kept as it is


def normalise_addresses(listing: str) -> list[str]:
    """``ip -o addr`` without the lifetimes, which count down on dynamic addresses."""
    return [_LIFETIMES.sub("", line).rstrip(" \\") for line in listing.splitlines()]


def _plain(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def _command(*argv: str) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        return f"({argv[0]} is not installed)"
    if done.returncode != 0:
        return f"({' '.join(argv)} failed: {done.stderr.strip()})"
    return done.stdout


def _file(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as error:
        return f"({path}: {error.strerror})"


def save_tools(which: Callable[[str], str | None] = shutil.which) -> list[str]:
    """The save commands to snapshot: Debian has two backends (legacy x_tables and
    nf_tables) side by side, and a rule written through one is invisible to the other's
    save, so each present one is read; the ``iptables-save`` alternative alone where
    neither is installed under its own name."""
    tools = []
    for family in ("iptables", "ip6tables"):
        own = [f"{family}-{backend}-save" for backend in ("legacy", "nft")]
        tools += [t for t in own if which(t)] or [f"{family}-save"]
    return tools


def _reader(argv: str) -> Callable[[], str]:
    return lambda: _command(argv)


# Each source's name (as a difference names it), how to read it and how to normalise it.
SOURCES: Mapping[str, tuple[Callable[[], str], Callable[[str], list[str]]]] = {
    **{tool: (_reader(tool), normalise_iptables) for tool in save_tools()},
    "ipv4 ip_forward": (lambda: _file("/proc/sys/net/ipv4/ip_forward"), _plain),
    "ipv6 forwarding": (lambda: _file("/proc/sys/net/ipv6/conf/all/forwarding"), _plain),
    "packages (dpkg-query -W)": (lambda: _command("dpkg-query", "-W"), _plain),
    "addresses (ip -o addr)": (lambda: _command("ip", "-o", "addr"), normalise_addresses),
    "routes (ip route)": (lambda: _command("ip", "route"), _plain),
}


def snapshot() -> Snapshot:
    """The host's state now, normalised, by source."""
    return {name: normalise(read()) for name, (read, normalise) in SOURCES.items()}


def differences(before: Snapshot, after: Snapshot) -> list[str]:
    """Each line that changed between two snapshots, named by its source: ``-`` what was
    there before and is gone, ``+`` what is new. Empty when the host is as it was."""
    found: list[str] = []
    for name in sorted(before.keys() | after.keys()):
        diff = difflib.unified_diff(before.get(name, []), after.get(name, []), n=0, lineterm="")
        found += [
            f"{name}: {line}"
            for line in diff
            if line.startswith(("+", "-")) and not line.startswith(("+++", "---"))
        ]
    return found


class HostChanged(AssertionError):
    """The host's state after the tier is not what it was before; the message names each
    difference."""


def assert_unchanged(before: Snapshot, after: Snapshot) -> None:
    """Raise :class:`HostChanged` naming every difference, if there is any."""
    found = differences(before, after)
    if found:
        raise HostChanged(
            "the real-node tier left the host changed (- before, + after):\n  " + "\n  ".join(found)
        )
