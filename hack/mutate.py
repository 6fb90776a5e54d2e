"""make mutate: mutation testing of obreg's pure core with mutmut, against the offline
tiers (tests/unit, tests/km) alone.

mutmut imports the code it mutates from ``src/`` (or the project root), and names
mutants after the file's path; obreg's source root is ``operator/``. So the run happens
in a staged copy, build/mutate, where the package sits at ``src/obreg`` and the project
files the tests read (samples, CRDs, chart, hack) sit beside it. Nothing in the working
tree is touched. The score printed at the end is killed / (all - skipped): a mutant that
no offline test reaches counts as a survivor, as it should.

A second run tests only the functions that changed; mutmut keeps every other result.
When the tests changed since the last run, the survivors are checked again first, so
a test added to kill one counts.

    python hack/mutate.py [--max-children N] glob ...

Globs name the files to mutate as in the working tree (``operator/obreg/render/*``);
``make mutate`` passes the pure core, the same list ``make coverage`` measures.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGE = ROOT / "build" / "mutate"
COPIED = ("tests", "testbed", "hack", "samples", "crds", "charts", "gitops")
# Results checked again when the tests changed.
RECHECKED = ("survived", "no tests")
# What mutmut writes at the top of every file it mutated.
TRAMPOLINE = "from mutmut.mutation.trampoline import"
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", "target", "mutate.py")


def stage(globs: list[str]) -> None:
    """A fresh copy with the package at src/obreg and mutmut's settings in its
    pyproject.toml. mutants/ (mutmut's own copy and results) is kept between runs so
    that an unchanged function is not tested again."""
    for name in ("src", *COPIED):
        shutil.rmtree(STAGE / name, ignore_errors=True)
    STAGE.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "operator" / "obreg", STAGE / "src" / "obreg", ignore=IGNORED)
    for name in COPIED:
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, STAGE / name, ignore=IGNORED)
    quoted = ", ".join(f'"{g}"' for g in globs)
    settings = (
        "\n[tool.mutmut]\n"
        'source_paths = ["src/obreg"]\n'
        f"only_mutate = [{quoted}]\n"
        'also_copy = ["testbed", "hack", "samples", "crds", "charts", "gitops"]\n'
        'pytest_add_cli_args_test_selection = ["tests/unit", "tests/km"]\n'
        # Hypothesis' database would let one mutant's failure replay into the next.
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"]\n'
        # Workers forked from a process that ran the suite inherit its threads (the
        # render pool, asyncio's executor) and hang on their locks: fork from a clean one.
        'process_isolation = "forkserver"\n'
    )
    (STAGE / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text() + settings)
    _forget_unmutated_copies(globs)


def _forget_unmutated_copies(globs: list[str]) -> None:
    """mutmut takes a file's copy under mutants/ as already mutated when it is newer than
    the source, even when an earlier run with other globs only copied it. Such a file
    would keep no mutant at all (and so count in no score): remove the copy, and any
    results of an older layout, so that this run mutates it."""
    for pattern in globs:
        for source in STAGE.glob(pattern):
            copy = STAGE / "mutants" / source.relative_to(STAGE)
            if copy.exists() and TRAMPOLINE not in copy.read_text():
                copy.unlink()
                copy.with_name(copy.name + ".meta").unlink(missing_ok=True)


def tests_digest() -> str:
    """A digest of the staged tests, to tell whether they changed since the last run."""
    digest = hashlib.sha256()
    for path in sorted((STAGE / "tests").rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(STAGE)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def statuses(results: str) -> list[tuple[str, str]]:
    """(mutant, status) of each line of ``mutmut results --all true``."""
    return [
        (m.group(1), m.group(2))
        for m in re.finditer(r"^\s*(\S+):\s*(\w[\w ]*\w)\s*$", results, re.MULTILINE)
    ]


def score(results: str) -> tuple[Counter[str], float]:
    """Counts per status from ``mutmut results --all true``, and the share detected: killed
    or timed out (a mutant that makes a test hang changed behaviour), of all but skipped.
    "no tests" and "not checked" count against the score."""
    counts = Counter(status for _, status in statuses(results))
    scored = sum(n for status, n in counts.items() if status != "skipped")
    detected = counts.get("killed", 0) + counts.get("timeout", 0)
    return counts, (detected / scored if scored else 0.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 1)
    parser.add_argument("globs", nargs="+")
    args = parser.parse_args()
    source = "operator/obreg/"
    if not all(g.startswith(source) for g in args.globs):
        parser.error(f"globs name files under {source}")
    stage(["src/obreg/" + g.removeprefix(source) for g in args.globs])
    mutmut = [sys.executable, "-m", "mutmut"]
    env = {**os.environ, "HYPOTHESIS_PROFILE": "mutate"}
    run = [*mutmut, "run", "--max-children", str(args.max_children)]

    def results() -> str:
        return subprocess.run(
            [*mutmut, "results", "--all", "true"],
            cwd=STAGE,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    tests = tests_digest()
    marker = STAGE / "tests.digest"
    if not marker.exists() or marker.read_text() != tests:
        # mutmut keeps which tests call which function from its first run and adds only
        # tests it has not seen: a changed test, or a module moved to a new name, would
        # leave functions with none or too few. Collect them all again.
        (STAGE / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
        # mutmut keeps a mutant's result while its function is unchanged, so a survivor
        # would stay one after a test that kills it was added: check those again.
        again = [name for name, status in statuses(results()) if status in RECHECKED]
        if again:
            subprocess.run([*run, *again], cwd=STAGE, env=env, check=True)
    subprocess.run(run, cwd=STAGE, env=env, check=True)
    marker.write_text(tests)
    found = results()
    (STAGE / "results.txt").write_text(found)
    counts, detected = score(found)
    print(", ".join(f"{status} {n}" for status, n in sorted(counts.items())))
    print(f"mutation score: {detected:.1%} detected (survivors: build/mutate/results.txt)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
