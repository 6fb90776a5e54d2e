"""The client truststore of one workload: its base keystore plus every anchor's CAs.

The runbook's two ``keytool -import`` calls per product, done as one pure function.
Output is deterministic: entries sorted by alias and each JKS entry stamped with its
certificate's notBefore instead of the wall clock, so the same input gives the same bytes.
PKCS12 is salted, so the file's fingerprint is computed over the semantic inputs.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
import struct
from dataclasses import dataclass

import jks
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from .. import budgets
from ..api.common import SecretKeyRef
from ..api.resource import Resource
from ..api.trust_anchor import (
    DEFAULT_PASSWORD,
    CertificateSummary,
    OBTrustAnchorSpec,
    TruststoreOutput,
)
from ..errors import InvalidInput, Where, printable
from . import certificates, keystore_work, listing, pkcs12_trust
from .certificates import Certificate
from .deadline import Deadline
from .inputs import Inputs

_JKS_MAGIC = b"\xfe\xed\xfe\xed"
_JKS_WHITENING = b"Mighty Aphrodite"  # what the JDK hashes after the password
_JAVA_UTF_BYTES = 0xFFFF  # DataOutputStream.writeUTF's limit, the length is 16 bits


@dataclass(frozen=True)
class Truststore:
    path: str
    content: bytes
    fingerprint: str
    summaries: dict[str, list[CertificateSummary]]  # anchor name -> its certificates
    warnings: dict[str, list[str]]  # anchor name -> resource-level warnings
    listing: str = ""  # every entry as text (render/listing.py), for review


def render(
    anchors: list[Resource[OBTrustAnchorSpec]],
    inputs: Inputs,
    now: datetime.datetime,
    deadline: Deadline | None = None,
) -> Truststore:
    """Merge every anchor that targets one workload into that workload's truststore,
    within ``deadline`` (a render's own budget when None)."""
    deadline = deadline or Deadline.start()
    anchors = sorted(anchors, key=lambda a: a.name)
    output = _agreed_output(anchors)
    owner = anchors[0]
    password = _password(owner, output.password_secret_ref, "spec.output.passwordSecretRef", inputs)

    anchor_certs: list[tuple[Resource[OBTrustAnchorSpec], Certificate]] = []
    seen: dict[str, tuple[str, str]] = {}  # sha256 -> (alias, where)
    aliases: dict[str, tuple[str, str]] = {}  # alias -> (sha256, where)
    count = 0  # the certificates of every anchor so far, repeats included
    for anchor in anchors:
        before = count
        for index in range(len(anchor.spec.certificates)):
            deadline.check(anchor.label)
            where = Where(anchor.label, f"spec.certificates[{index}]")
            found = _source_certificates(anchor, index, inputs, now, _left(anchor, before, count))
            count += len(found)
            for cert in found:
                deadline.check(anchor.label)
                if cert.sha256 in seen:
                    continue  # the same CA twice: stored once
                if cert.alias in aliases and aliases[cert.alias][0] != cert.sha256:
                    raise where.refuse(
                        f"alias {cert.alias!r} is also used for a different certificate at "
                        f"{aliases[cert.alias][1]}",
                        "give each certificate its own alias",
                    )
                seen[cert.sha256] = (cert.alias, f"{anchor.label} {where.path}")
                aliases[cert.alias] = (cert.sha256, f"{anchor.label} {where.path}")
                anchor_certs.append((anchor, cert))

    entries = _base_entries(anchors, inputs)
    anchor_shas = {c.sha256 for _, c in anchor_certs}
    # A CA the base already trusts under another alias is kept once, under the anchor's.
    entries = {alias: c for alias, c in entries.items() if c.sha256 not in anchor_shas}
    for anchor, cert in anchor_certs:
        existing = entries.get(cert.alias)
        if existing is not None and not anchor.spec.replace_existing_aliases:
            raise Where(anchor.label, "spec.certificates").refuse(
                f"alias {cert.alias!r} already holds a different certificate in the base keystore",
                "choose another alias, or set replaceExistingAliases: true to replace it",
            )
        entries[cert.alias] = cert

    ordered = [entries[alias] for alias in sorted(entries)]
    for cert in ordered:  # unreachable within the alias budgets; never a struct.error
        if len(java_utf(cert.alias)) > _JAVA_UTF_BYTES:
            raise Where(owner.label, "spec").refuse(
                f"an alias of the truststore is over {_JAVA_UTF_BYTES} bytes, "
                "more than a keystore can hold",
                "shorten the base keystore's aliases with keytool -changealias",
            )
    content = (
        _write_jks(ordered, password)
        if output.format == "JKS"
        else _write_pkcs12(ordered, password)
    )
    fingerprint = hashlib.sha256(
        json.dumps(
            {
                "format": output.format,
                "entries": [[c.alias, c.sha256] for c in ordered],
                # Hashed with a domain prefix so the fingerprint tells whether the password
                # changed without carrying it.
                "password": hashlib.sha256(
                    b"obreg-keystore-password\0" + password.encode()
                ).hexdigest(),
            },
            sort_keys=True,
        ).encode()
    ).hexdigest()

    issuers = certificates.Issuers(entries.values())
    summaries: dict[str, list[CertificateSummary]] = {anchor.name: [] for anchor in anchors}
    for anchor, cert in anchor_certs:
        deadline.check(anchor.label)
        summaries[anchor.name].append(
            _summary(cert, issuers, now, anchor.spec.expiry_warning_days)
        )
    resource_warnings = {
        anchor.name: (
            ["the truststore uses the default password wso2carbon"]
            if output.password_secret_ref is None
            else []
        )
        for anchor in anchors
    }
    return Truststore(
        output.resolved_path,
        content,
        fingerprint,
        summaries,
        resource_warnings,
        listing.of((c.alias, c.cert, c.der) for c in ordered),
    )


def _left(
    anchor: Resource[OBTrustAnchorSpec], before: int, count: int
) -> certificates.Limit | None:
    """What the truststore's budget leaves the next source of ``anchor``, when it is less
    than a source's own budget; ``before``: the certificates of the anchors before it.
    Checked while the source is scanned, so a source over it is never parsed whole."""
    total = budgets.CERTIFICATES_PER_TRUSTSTORE
    if total - count > budgets.CERTIFICATES_PER_SOURCE:
        return None
    message = (
        f"holds more than {total} certificates"
        if before == 0
        else f"holds more than the {total - before} certificates that the {before} of the "
        f"anchors before it leave of this truststore's {total}"
    )
    return certificates.Limit(
        total - count,
        lambda: Where(anchor.label, "spec.certificates").refuse(
            message,
            "a client truststore needs the CAs that issue client certificates; "
            "split the sources across anchors of other workloads or trim them",
        ),
    )


def _agreed_output(anchors: list[Resource[OBTrustAnchorSpec]]) -> TruststoreOutput:
    """Anchors that share a workload share its one truststore, so they must agree on it."""
    first = anchors[0]
    for other in anchors[1:]:
        if other.spec.output != first.spec.output:
            raise Where(other.label, "spec.output").refuse(
                f"differs from {first.label} spec.output, which targets the same workload",
                "anchors of one workload write one truststore: give them the same output",
            )
    with_base = [a for a in anchors if a.spec.base_keystore is not None]
    for other in with_base[1:]:
        if other.spec.base_keystore != with_base[0].spec.base_keystore:
            raise Where(other.label, "spec.baseKeystore").refuse(
                f"differs from {with_base[0].label} spec.baseKeystore for the same workload",
                "set the base keystore on one anchor only",
            )
    return first.spec.output


def _password(
    resource: Resource[OBTrustAnchorSpec],
    ref: SecretKeyRef | None,
    path: str,
    inputs: Inputs,
    placeholder: bool = True,
) -> str:
    """A truststore's password; ``placeholder`` False where it must open a keystore that
    exists (a placeholder password would only fail as a wrong one)."""
    if ref is None:
        return DEFAULT_PASSWORD
    where = Where(resource.label, path)
    return inputs.secret_text(resource.namespace, ref, where, placeholder=placeholder)


def _source_certificates(
    anchor: Resource[OBTrustAnchorSpec],
    index: int,
    inputs: Inputs,
    now: datetime.datetime,
    limit: certificates.Limit | None,
) -> list[Certificate]:
    source = anchor.spec.certificates[index]
    where = Where(anchor.label, f"spec.certificates[{index}]")
    if source.inline is not None:
        where = where.child("inline")
        data = source.inline.encode()
        if b"-----BEGIN" not in data:
            raise where.refuse(
                "inline must be PEM text", "use secretKeyRef or configMapKeyRef for DER"
            )
    elif source.secret_key_ref is not None:
        where = where.child("secretKeyRef")
        data = inputs.secret(anchor.namespace, source.secret_key_ref, where)
    else:
        assert source.config_map_key_ref is not None
        where = where.child("configMapKeyRef")
        data = inputs.config_map(anchor.namespace, source.config_map_key_ref, where)
    parsed = certificates.parse(data, where, limit)
    if source.alias is not None and len(parsed) != 1:
        raise Where(anchor.label, f"spec.certificates[{index}].alias").refuse(
            "an explicit alias needs a source with exactly one certificate; "
            f"it holds {len(parsed)}",
            "split the bundle into one source per certificate, or drop the alias",
        )
    result = []
    for number, cert in enumerate(parsed, start=1):
        if cert.not_valid_after_utc < now:
            raise where.refuse(
                f"certificate {number} ({cert.subject.rfc4514_string()}) expired on "
                f"{cert.not_valid_after_utc.date().isoformat()}",
                "trusting an expired CA authenticates nobody; replace it with the current one",
            )
        alias = source.alias or certificates.derived_alias(cert)
        result.append(Certificate(alias, cert.public_bytes(serialization.Encoding.DER), cert))
    return result


def _base_entries(
    anchors: list[Resource[OBTrustAnchorSpec]], inputs: Inputs
) -> dict[str, Certificate]:
    owners = [a for a in anchors if a.spec.base_keystore is not None]
    if not owners:
        return {}
    anchor = owners[0]
    base = anchor.spec.base_keystore
    assert base is not None
    where = Where(anchor.label, "spec.baseKeystore")
    data = inputs.file(anchor.namespace, base.source, where.child("source"))
    password = _password(
        anchor,
        base.password_secret_ref,
        "spec.baseKeystore.passwordSecretRef",
        inputs,
        placeholder=False,
    )
    if base.type == "JKS":
        return _read_jks(data, password, where)
    return _read_pkcs12(data, password, where)


def _read_jks(data: bytes, password: str, where: Where) -> dict[str, Certificate]:
    return _base_aliases(jks_entries(data, password, where), where)


def jks_entries(
    data: bytes, password: str, where: Where
) -> list[tuple[str, x509.Certificate | None]]:
    """A JKS's certificate entries as stored, one per alias, none merged: what ``obreg
    import`` compares entry by entry (a base keystore goes on to ``_base_aliases``)."""
    try:
        store = keystore_work.load_jks(data, password, where, _JavaKeyStore)
    except jks.util.KeystoreSignatureException:
        raise where.refuse(
            "the base keystore's password is wrong (integrity check failed)",
            "fix passwordSecretRef (the stock password is wso2carbon)",
        ) from None
    except jks.util.UnsupportedKeystoreVersionException:
        raise where.refuse(
            "a JKS keystore of a version obreg cannot read", "convert it with keytool"
        ) from None
    except InvalidInput:  # the keystore budgets' refusal says which budget
        raise
    except Exception:  # pyjks raises many kinds on damaged input; all mean the same
        raise where.refuse(
            "not a JKS keystore, or a damaged one", "is the file PKCS12? then set type: PKCS12"
        ) from None
    if store.private_keys or store.secret_keys:
        raise keystore_work.key_entries(where)
    found: list[tuple[str, x509.Certificate | None]] = []
    for alias, entry in sorted(store.certs.items()):
        try:
            found.append((alias, x509.load_der_x509_certificate(entry.cert)))
        except ValueError:
            found.append((alias, None))
    return found


class _JavaKeyStore(jks.KeyStore):  # type: ignore[misc]
    """pyjks reading strings as Java's DataInputStream.readUTF does (modified UTF-8:
    C0 80 for NUL, surrogate pairs of three bytes each), refusing the four-byte sequences
    Java refuses; pyjks itself reads standard UTF-8, so a keytool-made alias outside the
    BMP failed and a hand-made four-byte one, which the product cannot load, passed."""

    @classmethod
    def _read_utf(cls, data: bytes, pos: int, kind: str | None = None) -> tuple[str, int]:
        (size,) = struct.unpack_from(">H", data, pos)
        raw = data[pos + 2 : pos + 2 + size]
        if len(raw) != size or any(byte >= 0xF0 for byte in raw):
            raise jks.util.BadKeystoreFormatException(f"{kind}: not modified UTF-8")
        try:
            text = (
                raw.replace(b"\xc0\x80", b"\x00")
                .decode("utf-8", "surrogatepass")
                .encode("utf-16-be", "surrogatepass")
                .decode("utf-16-be", "surrogatepass")
            )
        except UnicodeError:
            raise jks.util.BadKeystoreFormatException(f"{kind}: not modified UTF-8") from None
        return text, pos + 2 + size


def _read_pkcs12(data: bytes, password: str, where: Where) -> dict[str, Certificate]:
    try:
        store = keystore_work.load_pkcs12(data, password, where)
    except ValueError:
        raise where.refuse(
            "not a PKCS12 keystore, or its password is wrong",
            "check type and passwordSecretRef",
        ) from None
    if store.key is not None:
        raise where.refuse(
            "the base keystore holds a private key",
            "a client truststore holds trusted certificates only; give the stock truststore",
        )
    # Only what Java trusts: certificate bags with its trusted-key-usage attribute.
    found: list[tuple[str, x509.Certificate | None]] = []
    for number, bag in enumerate(pkcs12_trust.trusted(data, password, where), start=1):
        try:
            cert: x509.Certificate | None = x509.load_der_x509_certificate(bag.der)
        except ValueError:
            cert = None
        found.append((bag.friendly_name or f"entry-{number}", cert))
    return _base_aliases(found, where)


def _base_aliases(
    found: list[tuple[str, x509.Certificate | None]], where: Where
) -> dict[str, Certificate]:
    """A base keystore's entries under unique aliases. Java compares aliases without
    case, and a PKCS12 file may give several certificates one friendly name: the first
    keeps the name (lower-cased, as keytool shows it), a later distinct certificate gets
    the name plus as much of its fingerprint as makes the alias unique (among every name
    of the base and every alias given so far), and an exact repeat is stored once. No
    certificate of the base is lost; one that cannot be read is refused by its
    name (within the budget), and a name over ``budgets.ALIAS_CHARACTERS`` by its entry
    number, never quoted whole."""
    names = set()
    for number, (name, cert) in enumerate(found, start=1):
        if len(name) > budgets.ALIAS_CHARACTERS or len(name.lower()) > budgets.ALIAS_CHARACTERS:
            raise where.refuse(
                f"entry {number}'s alias ({printable(name[:40])!r}...) is longer than "
                f"{budgets.ALIAS_CHARACTERS} characters",
                "rename it with keytool -changealias",
            )
        if cert is None or not certificates.readable(cert):
            raise where.refuse(
                f"the entry {printable(name)!r} is not a readable X.509 certificate",
                "remove it from the base keystore with keytool -delete",
            )
        names.add(name.lower())
    entries: dict[str, Certificate] = {}
    seen: set[str] = set()
    for name, cert in found:
        assert cert is not None
        der = cert.public_bytes(serialization.Encoding.DER)
        entry = Certificate(name.lower(), der, cert)
        if entry.sha256 in seen:
            continue
        if entry.alias in entries:
            entry = Certificate(_unused(entry.alias, entry.sha256, names), der, cert)
        seen.add(entry.sha256)
        names.add(entry.alias)
        entries[entry.alias] = entry
    return entries


def _unused(alias: str, sha256: str, taken: set[str]) -> str:
    """``alias`` with a suffix from ``sha256`` that no alias in ``taken`` has: 8 hex
    digits, more if those are taken, then a counter (the taken set is finite)."""
    for digits in (8, 16, 64):
        candidate = f"{alias}-{sha256[:digits]}"
        if candidate not in taken:
            return candidate
    counter = 2
    while f"{alias}-{sha256}-{counter}" in taken:
        counter += 1
    return f"{alias}-{sha256}-{counter}"


def java_utf(text: str) -> bytes:
    """``text`` as Java's DataOutputStream.writeUTF writes it, without the length:
    modified UTF-8, where NUL is C0 80 and a character outside the BMP is its two UTF-16
    surrogates, three bytes each. Java's JKS reader (readUTF) refuses standard UTF-8's
    four-byte sequences."""
    return (
        _ASTRAL.sub(_surrogates, text)
        .encode("utf-8", "surrogatepass")
        .replace(b"\x00", b"\xc0\x80")
    )


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def _surrogates(match: re.Match[str]) -> str:
    code = ord(match.group()) - 0x10000
    return chr(0xD800 | code >> 10) + chr(0xDC00 | code & 0x3FF)


def _write_jks(entries: list[Certificate], password: str) -> bytes:
    """A JKS of trusted certificates, each stamped with its notBefore: the bytes pyjks
    writes (keytool reads them), joined once. pyjks appends each entry to the bytes so
    far, quadratic in entries: 3 s for a truststore of 5,000."""
    parts = [_JKS_MAGIC, struct.pack(">II", 2, len(entries))]
    for cert in entries:
        alias = java_utf(cert.alias)
        stamp = int(cert.cert.not_valid_before_utc.timestamp() * 1000)
        parts += [
            struct.pack(">IH", 2, len(alias)),  # a trusted certificate; its alias
            alias,
            struct.pack(">qH", stamp, len(b"X.509")),
            b"X.509",
            struct.pack(">I", len(cert.der)),
            cert.der,
        ]
    body = b"".join(parts)
    return body + hashlib.sha1(password.encode("utf-16be") + _JKS_WHITENING + body).digest()


def _write_pkcs12(entries: list[Certificate], password: str) -> bytes:
    return pkcs12.serialize_java_truststore(
        [pkcs12.PKCS12Certificate(c.cert, c.alias.encode()) for c in entries],
        serialization.BestAvailableEncryption(password.encode()),
    )


def _summary(
    cert: Certificate, issuers: certificates.Issuers, now: datetime.datetime, warn_days: int
) -> CertificateSummary:
    """Subjects and issuers are input: written with control characters escaped."""
    return CertificateSummary(
        alias=cert.alias,
        subject=printable(cert.cert.subject.rfc4514_string()),
        issuer=printable(cert.cert.issuer.rfc4514_string()),
        not_after=cert.cert.not_valid_after_utc.isoformat().replace("+00:00", "Z"),
        sha256=cert.sha256,
        warnings=certificates.warnings(cert, issuers, now, warn_days),
    )
