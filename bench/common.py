"""What every benchmark shares: timing statistics, the machine and versions, results."""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def measure(run: Callable[[], object], repeats: int, warmup: int = 1) -> dict[str, float]:
    """Wall-clock seconds of ``run`` over ``repeats`` runs: median and spread."""
    for _ in range(warmup):
        run()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return summary(samples)


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "median": statistics.median(ordered),
        "min": ordered[0],
        "max": ordered[-1],
        "p95": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        "stdev": statistics.stdev(ordered) if len(ordered) > 1 else 0.0,
    }


def machine() -> dict[str, Any]:
    def version(*cmd: str) -> str:
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        except OSError:
            return "absent"
        return (out.stdout or out.stderr).strip().splitlines()[0]

    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "java": version("java", "-version"),
    }


def write(name: str, mode: str, figures: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{name}-{mode}-{stamp}.json"
    path.write_text(
        json.dumps(
            {"benchmark": name, "mode": mode, "machine": machine(), "figures": figures}, indent=2
        )
    )
    return path


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows
    )
