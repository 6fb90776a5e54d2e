"""Print the resident memory each library adds as the operator imports it, in the
operator's order, from a fresh interpreter (docs/benchmarks.md, "Where an idle obreg's
memory goes"). Shared libraries count where they are first loaded.

    PYTHONPATH=operator .venv/bin/python hack/import_footprint.py
"""

from __future__ import annotations

import importlib
from pathlib import Path

# Each row: a label and the modules whose import it measures, in the operator's order.
ROWS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("yaml, json5", ("yaml", "json5")),
    ("lxml", ("lxml.etree",)),
    ("cryptography", ("cryptography.x509", "cryptography.hazmat.primitives.serialization")),
    ("pydantic", ("pydantic",)),
    ("aiohttp", ("aiohttp",)),
    ("kubernetes (official client)", ("kubernetes",)),
    ("kopf", ("kopf",)),
    ("pyjks", ("jks",)),
    ("prometheus_client", ("prometheus_client",)),
    ("obreg", ("obreg.cli", "obreg.handlers")),
)


def rss_mb() -> float:
    """This process's resident set (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    before = rss_mb()
    print(f"| the interpreter | | {before:.1f} MB |")
    for label, modules in ROWS:
        for module in modules:
            importlib.import_module(module)
        after = rss_mb()
        print(f"| {label} | {after - before:.1f} MB | {after:.1f} MB |")
        before = after


if __name__ == "__main__":
    main()
