"""``make lock``: the hash-pinned Python dependencies the image build installs.

uv (from PyPI, into the per-machine cache) resolves for the image's Python (Debian
bookworm's 3.11) on every platform at once (``--universal``), each pin with the hashes of
all its files, so pip's ``--require-hashes`` in the Dockerfile refuses any file PyPI did
not have when the lock was made:

- requirements/image.lock: obreg's dependencies, from pyproject.toml;
- requirements/build.lock: what builds obreg and pyjks' twofish (PyPI has it only as
  source) inside the image build, from requirements/build.in, installed first so that
  no build step fetches an unpinned setuptools.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from testbed.controlplane import build

UV_VERSION = "0.13.8"
ROOT = Path(__file__).resolve().parents[2]
IMAGE_PYTHON = "3.11"


def uv() -> Path:
    """uv in a venv of its own in the cache, installed once per version."""
    home = build.cache_root() / "tools" / f"uv-{UV_VERSION}"
    binary = home / "bin" / "uv"
    if not binary.is_file():
        subprocess.run([sys.executable, "-m", "venv", str(home)], check=True)
        subprocess.run(
            [str(home / "bin" / "pip"), "install", "--quiet", f"uv=={UV_VERSION}"], check=True
        )
    return binary


def compile_lock(source: str, output: str) -> None:
    subprocess.run(
        [str(uv()), "pip", "compile", "--quiet", source, "--output-file", output,
         "--generate-hashes", "--universal", "--python-version", IMAGE_PYTHON,
         "--custom-compile-command", "make lock", "--upgrade"],
        cwd=ROOT,
        check=True,
    )  # fmt: skip


def main() -> None:
    compile_lock("pyproject.toml", "requirements/image.lock")
    compile_lock("requirements/build.in", "requirements/build.lock")


if __name__ == "__main__":
    main()
