"""The stand-in's checks of the product home: every keystore opened by the JVM's own
keytool with the store password and its entries listed (alias and SHA-256 fingerprint,
which the tests read from the pod's log), every XML file parsed, every JSON file parsed
(site.json as the JavaScript-style JSON WSO2's store reads, with comments and trailing
commas; the others strictly). Exit status 1 if any of it failed."""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import json5

STORE_PASSWORD = os.environ.get("TRUSTSTORE_PASSWORD", "wso2carbon")


def check(path: Path) -> str:
    if path.suffix in (".jks", ".p12"):
        listing = subprocess.run(
            ["keytool", "-list", "-keystore", str(path), "-storepass", STORE_PASSWORD],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        lines = listing.splitlines()
        aliases = [line.split(",")[0] for line in lines if "trustedCertEntry" in line]
        fingerprints = [line.split(": ", 1)[1] for line in lines if "(SHA-256)" in line]
        return " ".join(f"{a}={f}" for a, f in zip(aliases, fingerprints, strict=True))
    if path.suffix == ".xml":
        return f"root {ElementTree.parse(path).getroot().tag}"
    if path.name == "site.json":
        return f"keys {sorted(json5.loads(path.read_text()))}"
    if path.suffix == ".json":
        return f"keys {len(json.loads(path.read_text()))}"
    return "copied"


def main(product: Path) -> int:
    failed = 0
    for path in sorted(p for p in product.rglob("*") if p.is_file()):
        relative = path.relative_to(product)
        try:
            print(f"standin: {relative}: {check(path)}", flush=True)
        except Exception as err:  # every failure is reported, then the exit status says
            print(f"standin: {relative}: FAILED {type(err).__name__}: {err}", flush=True)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
