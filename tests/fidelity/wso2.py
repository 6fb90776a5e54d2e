"""WSO2's own parser classes, built once per framework version into obreg's cache (like
the control plane's binaries) and run on files obreg rendered.

The Java program (wso2-parsers/) is ours; WSO2's jar comes from Maven Central at build
time and is never committed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parent / "wso2-parsers"
# The framework IS-KM 5.7.0 runs (Open Banking 1.3/1.4), and a newer one.
VERSIONS = ("5.12.153", "7.5.0")
MAIN = "dev.obreg.fidelity.ReadAsWso2"


def _cache() -> Path:
    return Path(os.environ.get("OBREG_CACHE", Path.home() / ".cache" / "obreg")) / "wso2-parsers"


def _fingerprint(version: str) -> str:
    digest = hashlib.sha256(version.encode())
    for path in sorted(p for p in PROJECT.rglob("*") if p.is_file() and "target" not in p.parts):
        digest.update(path.relative_to(PROJECT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def build(version: str) -> str:
    """The class path of the reader for ``version``, built unless cached. A build that
    did not finish is never used: it is made in a temporary folder and renamed."""
    home = _cache() / f"{version}-{_fingerprint(version)}"
    if not (home / "wso2-parsers-1.jar").is_file():
        home.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=home.parent))
        try:
            subprocess.run(
                [
                    "mvn",
                    "-q",
                    "-B",
                    "-f",
                    str(PROJECT / "pom.xml"),
                    "package",
                    f"-Dframework.version={version}",
                    f"-Doutput={staging}",
                ],
                check=True,
                timeout=900,
            )
            staging.rename(home)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return f"{home / 'wso2-parsers-1.jar'}{os.pathsep}{home / 'lib' / '*'}"


def read(classpath: str, kind: str, files: list[Path]) -> list[dict[str, Any]]:
    """What WSO2 read from each file (``kind`` is idp or sp), in order."""
    result = subprocess.run(
        ["java", "-cp", classpath, MAIN, kind, *map(str, files)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return [json.loads(line) for line in result.stdout.splitlines()]


def values(model: Any) -> set[str]:
    """Every string and number anywhere in a model, as text."""
    if isinstance(model, dict):
        return set().union(*(values(v) for v in model.values())) if model else set()
    if isinstance(model, list):
        return set().union(*(values(v) for v in model)) if model else set()
    if isinstance(model, bool) or model is None:
        return set()
    return {str(model)}
