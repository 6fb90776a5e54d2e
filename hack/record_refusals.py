"""make refusals: rewrite tests/refusals.txt, the recorded refusal of every case of the
bad-input table, after a deliberate change of a message. Review the diff: each changed
line is a message a user will read differently."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.bad_inputs import CASES, RECORDED_REFUSALS, record_refusals  # noqa: E402


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        RECORDED_REFUSALS.write_text(record_refusals(CASES, Path(folder)))
    print(f"wrote {RECORDED_REFUSALS} ({len(CASES)} cases)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
