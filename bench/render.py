"""Render a client truststore (100-entry base + N anchors, JKS and PKCS12), and side by
side the runbook's way: ``keytool -importcert`` once per certificate into a copy of the
same base."""

from __future__ import annotations

import datetime
import functools
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import jks

from bench.common import measure, summary, table, write
from obreg.api.parse import parse
from obreg.render import truststore
from obreg.render.inputs import Inputs
from tests.pki import issue

NOW = datetime.datetime.now(datetime.UTC)


def _base(count: int) -> bytes:
    entries = [
        jks.TrustedCertEntry.new(f"stock{i:03d}", issue(f"Stock CA {i}").der) for i in range(count)
    ]
    return bytes(jks.KeyStore.new("jks", entries).saves("wso2carbon"))


def _anchor(pems: list[bytes], store_format: str) -> Any:
    return parse(
        {
            "apiVersion": "obreg.dev/v1alpha1",
            "kind": "OBTrustAnchor",
            "metadata": {"name": "bench", "namespace": "bench"},
            "spec": {
                "targets": [{"name": "km"}],
                # One PEM bundle (a source holds at most 256 entries of the list, and a
                # CA bundle is how many certificates arrive); aliases are derived.
                "certificates": [{"inline": b"".join(pems).decode()}],
                "baseKeystore": {"source": {"configMapKeyRef": {"name": "stock", "key": "jks"}}},
                "output": {"format": store_format},
            },
        }
    )


def _keytool_loop(base: Path, pems: list[Path], work: Path) -> None:
    store = work / "client-truststore.jks"
    shutil.copyfile(base, store)
    for i, pem in enumerate(pems):
        subprocess.run(
            [
                "keytool",
                "-importcert",
                "-noprompt",
                "-alias",
                f"anchor{i:03d}",
                "-file",
                str(pem),
                "-keystore",
                str(store),
                "-storepass",
                "wso2carbon",
            ],
            check=True,
            capture_output=True,
        )


def run(quick: bool) -> dict[str, Any]:
    sizes = [10, 100] if quick else [10, 100, 500]
    repeats = 5 if quick else 15
    keytool_repeats = {10: 3, 100: 1, 500: 1} if not quick else {10: 2}
    base = _base(100)
    inputs = Inputs(config_maps={("bench", "stock"): {"jks": base}})
    pems = [issue(f"Anchor CA {i}").pem for i in range(max(sizes))]
    figures: dict[str, Any] = {"base_entries": 100}
    rows = [["N", "JKS median", "PKCS12 median", "keytool loop", "ratio (keytool/JKS)"]]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "base.jks").write_bytes(base)
        files = []
        for i, pem in enumerate(pems):
            path = work / f"anchor{i:03d}.pem"
            path.write_bytes(pem)
            files.append(path)
        for n in sizes:
            result: dict[str, Any] = {}
            for store_format in ("JKS", "PKCS12"):
                anchor = _anchor(pems[:n], store_format)
                result[store_format] = measure(
                    functools.partial(truststore.render, [anchor], inputs, NOW), repeats
                )
            if n in keytool_repeats:
                samples = []
                for _ in range(keytool_repeats[n]):
                    loop_dir = work / f"loop{n}"
                    loop_dir.mkdir(exist_ok=True)
                    start = time.perf_counter()
                    _keytool_loop(work / "base.jks", files[:n], loop_dir)
                    samples.append(time.perf_counter() - start)
                result["keytool_loop"] = summary(samples)
                result["ratio"] = result["keytool_loop"]["median"] / result["JKS"]["median"]
            figures[f"N={n}"] = result
            rows.append(
                [
                    str(n),
                    f"{result['JKS']['median'] * 1000:.1f} ms",
                    f"{result['PKCS12']['median'] * 1000:.1f} ms",
                    f"{result['keytool_loop']['median']:.1f} s"
                    if "keytool_loop" in result
                    else "-",
                    f"{result['ratio']:.0f}x" if "ratio" in result else "-",
                ]
            )
    print(table(rows))
    return figures


def main() -> None:
    quick = "--quick" in sys.argv
    figures = run(quick)
    print(f"results: {write('render', 'quick' if quick else 'full', figures)}")


if __name__ == "__main__":
    main()
