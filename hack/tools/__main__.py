"""``PYTHONPATH=hack python -m tools``: build (or find in the cache) every tool and print
where it is, e.g. to build them ahead of the tests on a fresh machine."""

from __future__ import annotations

from . import TOOLS

for tool in TOOLS:
    print(f"{tool.name}={tool.path()}")
