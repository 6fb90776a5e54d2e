"""Run one tier of ``make test`` timed and logged, and print what every tier cost.

``make test`` runs its tiers side by side (``make -j``), so their output would interleave
line by line; each tier's output goes to ``build/tiers/<tier>.log`` instead and is printed
whole once the tier ends, under a lock so two dumps never mix. Each tier leaves its
outcome and wall time in ``build/tiers/<tier>.json``; ``summary`` prints them as a table
at the end (the per-tier cost of a run), including the tiers that never ran because what
they needed failed.

    tiers.py begin                  forget the last run's records
    tiers.py run NAME -- CMD ...    run CMD as tier NAME; exit with its status
    tiers.py skip NAME REASON       record NAME as not run, saying why
    tiers.py summary NAME ...       the table of the tiers named; fails if any failed
"""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

RECORDS = Path(__file__).resolve().parents[1] / "build" / "tiers"
STARTED = RECORDS / "started"


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)}m{int(seconds % 60):02d}s"


def _elapsed() -> float:
    """Seconds since ``begin`` (the start of make test), or 0 if it was not called."""
    try:
        return time.time() - float(STARTED.read_text())
    except (FileNotFoundError, ValueError):
        return 0.0


def _record(name: str, status: str, seconds: float, started_at: float, note: str = "") -> None:
    record: dict[str, str | float] = {
        "status": status,
        "seconds": seconds,
        "started_at": started_at,
    }
    if note:
        record["note"] = note
    (RECORDS / f"{name}.json").write_text(json.dumps(record))


def begin() -> None:
    shutil.rmtree(RECORDS, ignore_errors=True)
    RECORDS.mkdir(parents=True)
    STARTED.write_text(str(time.time()))


def run(name: str, command: list[str]) -> int:
    RECORDS.mkdir(parents=True, exist_ok=True)
    log = RECORDS / f"{name}.log"
    started_at = _elapsed()
    print(f"tier {name}: started at +{_minutes(started_at)}; log {log}", flush=True)
    start = time.monotonic()
    with log.open("wb") as sink:
        status = subprocess.run(command, stdin=subprocess.DEVNULL, stdout=sink,
                                stderr=subprocess.STDOUT).returncode  # fmt: skip
    seconds = time.monotonic() - start
    outcome = "passed" if status == 0 else f"failed (exit {status})"
    _record(name, "passed" if status == 0 else "failed", seconds, started_at)
    with (RECORDS / ".print.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        sys.stdout.write(f"\n===== tier {name} =====\n")
        sys.stdout.write(log.read_text(errors="replace"))
        sys.stdout.write(f"===== tier {name}: {outcome} in {_minutes(seconds)} =====\n\n")
        sys.stdout.flush()
    return status


def skip(name: str, reason: str) -> None:
    RECORDS.mkdir(parents=True, exist_ok=True)
    _record(name, "skipped", 0.0, _elapsed(), reason)
    print(f"tier {name}: skipped: {reason}", flush=True)


def summary(names: list[str]) -> int:
    """The table, in the order named; a tier without a record never started (make does
    not start a tier whose prerequisite tier failed)."""
    rows = []
    failed = False
    for name in names:
        path = RECORDS / f"{name}.json"
        if not path.exists():
            rows.append((name, "not run", "", "", "a tier it needs failed"))
            failed = True
            continue
        record = json.loads(path.read_text())
        failed |= record["status"] == "failed"
        rows.append((name, record["status"], f"+{_minutes(record['started_at'])}",
                     _minutes(record["seconds"]), record.get("note", "")))  # fmt: skip
    print(f"make test: tiers (wall time of the whole run {_minutes(_elapsed())})")
    print(f"  {'tier':<14}{'status':<9}{'start':<10}wall")
    for name, status, start, wall, note in rows:
        print(f"  {name:<14}{status:<9}{start:<10}{wall:<9}{note}".rstrip())
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    match argv:
        case ["begin"]:
            begin()
            return 0
        case ["run", name, "--", *command] if command:
            return run(name, command)
        case ["skip", name, reason]:
            skip(name, reason)
            return 0
        case ["summary", *names]:
            return summary(names)
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
