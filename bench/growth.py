"""How each step that once compared everything with everything grows: timed at N, 2N
and 4N, with the ratio of 4N to N (about 4 when linear, 16 when quadratic).

- PEM scan: a source of N BEGIN lines with no END line (refused);
- issuer linking: two groups of N/2 CAs, each naming the other's subject as issuer;
- anchors: every workload of a namespace of N anchors (one CA each, each anchor
  targeting two of four workloads), rendered as ``obreg render`` does;
- files: the path checks of a workload of N files;
- masking: a client secret of N words masked in a Key Manager fault of 100N words (the
  pattern it replaced took N times the text's steps: 7.5 s of CPU at N = 2,000).

Target: the 4,000-anchor render within 2x of four times the 1,000-anchor render.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import sys
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from bench.common import measure, table, write
from obreg import redaction
from obreg.api.parse import parse
from obreg.errors import InvalidInput, Label, Where
from obreg.render import bundle, certificates
from obreg.render.bundle import File, Namespace
from obreg.render.inputs import Inputs
from tests.pki import issue

NOW = datetime.datetime.now(datetime.UTC)
WHERE = Where(Label("OBTrustAnchor", "bench", "growth"), "spec.certificates[0].inline")


def pem_scan(n: int) -> Callable[[], object]:
    data = b"-----BEGIN CERTIFICATE-----\n" * n

    def run() -> None:
        with contextlib.suppress(InvalidInput):
            certificates.parse(data, WHERE)

    return run


def _cross_named(n: int) -> list[certificates.Certificate]:
    key, signer = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    found = []
    for index in range(n):
        subject, issuer = ("Group A", "Group B") if index % 2 else ("Group B", "Group A")
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(index + 1)
            .not_valid_before(NOW - datetime.timedelta(days=1))
            .not_valid_after(NOW + datetime.timedelta(days=365))
            .sign(signer, hashes.SHA256())
        )
        der = cert.public_bytes(serialization.Encoding.DER)
        found.append(certificates.Certificate(f"ca{index}", der, cert))
    return found


def issuer_linking(n: int) -> Callable[[], object]:
    every = _cross_named(n)

    def run() -> None:
        issuers = certificates.Issuers(every)
        for certificate in every:
            certificates.warnings(certificate, issuers, NOW, 30)

    return run


@functools.cache
def _pems(n: int) -> list[str]:
    return [issue(f"Growth CA {i}").pem.decode() for i in range(n)]


def anchors(n: int) -> Callable[[], object]:
    resources: list[Any] = [
        parse(
            {
                "apiVersion": "obreg.dev/v1alpha1",
                "kind": "OBTrustAnchor",
                "metadata": {"name": f"a{i:05d}", "namespace": "bench"},
                "spec": {
                    "targets": [{"name": f"w{i % 4}"}, {"name": f"w{(i + 1) % 4}"}],
                    "certificates": [{"inline": pem}],
                },
            }
        )
        for i, pem in enumerate(_pems(n))
    ]

    def run() -> None:
        namespace = Namespace("bench", resources)  # a new one, as each reconcile sees
        for workload in namespace.workloads():
            bundle.render(namespace, workload, Inputs(), NOW)

    return run


def files(n: int) -> Callable[[], object]:
    owner = Label("OBIdentityProvider", "bench", "growth")
    made = [File(f"repository/conf/p{i:05d}/f.xml", b"", False, "", owner) for i in range(n)]
    return lambda: bundle._unique(made)


def masking(n: int) -> Callable[[], object]:
    secret = " ".join(["a"] * n) + " b"  # never found whole: every place is a near miss
    fault = " ".join(["a"] * (100 * n))
    return lambda: redaction.redact(fault, [secret])


STEPS: dict[str, tuple[Callable[[int], Callable[[], object]], int]] = {
    "PEM scan (BEGIN lines)": (pem_scan, 20_000),
    "issuer linking (CAs)": (issuer_linking, 250),
    "anchors (4 workloads)": (anchors, 1_000),
    "files per workload": (files, 2_000),
    "masking (secret words)": (masking, 1_000),
}


def run(quick: bool) -> dict[str, Any]:
    repeats = 1 if quick else 3
    figures: dict[str, Any] = {}
    rows = [["step", "N", "t(N)", "t(2N)", "t(4N)", "t(4N)/t(N)"]]
    for name, (make, base) in STEPS.items():
        if quick:
            base //= 4
        times = [measure(make(base * k), repeats)["median"] for k in (1, 2, 4)]
        ratio = times[2] / times[0]
        figures[name] = {"N": base, "seconds": times, "ratio": ratio}
        rows.append([name, str(base), *(f"{t * 1000:.1f} ms" for t in times), f"{ratio:.1f}x"])
    print(table(rows))
    ratio = figures["anchors (4 workloads)"]["ratio"]
    verdict = "met" if ratio <= 8 else "missed"
    print(f"target (4N anchors within 2x of 4 x N anchors, ratio <= 8): {verdict} ({ratio:.1f}x)")
    return figures


def main() -> None:
    quick = "--quick" in sys.argv
    figures = run(quick)
    print(f"results: {write('growth', 'quick' if quick else 'full', figures)}")


if __name__ == "__main__":
    main()
