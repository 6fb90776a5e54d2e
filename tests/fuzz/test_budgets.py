"""``obreg render`` under input written to exhaust a budget: for every example, output
or a refusal (exit 0 or 1, never "internal error"), within a memory and a CPU ceiling.

Each render runs in a child forked from this process, under RLIMIT_AS (its address space
when forked plus MEMORY_HEADROOM) and RLIMIT_CPU. A child is cheap to fork (obreg is
already imported) and the kernel's limits hold for everything it does: lxml's and
libyaml's C allocations, which tracemalloc would not see, and a loop that would never
end, which an in-process test could only wait out. A child over its memory gets
MemoryError (an internal error, so a failure); over its CPU, SIGXCPU ends it.

The CI profile runs 20 examples of each but size (2), about 20 s in all; ``make fuzz``
many more."""

from __future__ import annotations

import os
import resource
import signal
import sys
import tempfile
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from obreg import budgets
from obreg.cli import EXIT_REFUSED, main
from tests.fuzz import hostile

# Far above what any render of a budget-sized input takes (an 8 MiB manifest renders in
# a few seconds and a few hundred MiB); far below what the bombs took (3.6 GB, minutes).
MEMORY_HEADROOM = 1024 * 1024 * 1024
CPU_SECONDS = int(budgets.RENDER_SECONDS) + 10  # the render's budget, and reading
# A sixth of the profile's examples per property: these inputs are large.
EXAMPLES = max(4, settings.default.max_examples // 6)


def _address_space() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmSize in /proc/self/status")


def _child(manifest: Path, out: Path, log: Path) -> int:
    """In the forked child: the limits, then the render, its output to ``log``."""
    limit = _address_space() + MEMORY_HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CPU, (CPU_SECONDS, CPU_SECONDS + 5))
    with log.open("w") as printed:
        sys.stdout = sys.stderr = printed
        return main(["render", "-f", str(manifest), "-o", str(out)])


def confined_render(stream: bytes) -> tuple[int, str]:
    """(exit code, what it printed) of ``obreg render`` of ``stream`` in a child under the
    limits; a child ended by a signal fails the example with its name."""
    with tempfile.TemporaryDirectory() as tmp:
        manifest, log = Path(tmp, "in.yaml"), Path(tmp, "printed")
        manifest.write_bytes(stream)
        pid = os.fork()
        if pid == 0:  # pragma: no cover (the child; its code is the parent's to check)
            code = 99
            try:
                code = _child(manifest, Path(tmp, "out"), log)
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        printed = log.read_text() if log.exists() else ""
        if os.WIFSIGNALED(status):
            name = signal.Signals(os.WTERMSIG(status)).name
            raise AssertionError(f"ended by {name} ({len(stream)} bytes):\n{printed}")
        return os.WEXITSTATUS(status), printed


def check(stream: bytes) -> None:
    code, printed = confined_render(stream)
    assert "internal error" not in printed, printed
    assert code in (0, EXIT_REFUSED), printed
    if code == EXIT_REFUSED:
        assert "refused, nothing written" in printed, printed


@settings(max_examples=EXAMPLES)
@given(stream=st.one_of(hostile.nested_yaml(), hostile.nested_json5(), hostile.nested_xml()))
def test_depth(stream: bytes) -> None:
    check(stream)


@settings(max_examples=EXAMPLES)
@given(stream=hostile.alias_fan_out())
def test_aliases(stream: bytes) -> None:
    check(stream)


@settings(max_examples=EXAMPLES)
@given(stream=st.one_of(hostile.many_begin_lines(), hostile.many_documents()))
@example(stream=hostile.past_the_node_budget())
def test_repetition(stream: bytes) -> None:
    check(stream)


@settings(max_examples=max(2, EXAMPLES // 10))  # each renders about 8 MiB
@given(stream=hostile.sized())
def test_size(stream: bytes) -> None:
    check(stream)
