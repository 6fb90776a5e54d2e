"""The Secrets and ConfigMaps that resources reference, already read.

Rendering never reads from the API: the operator fills this from its indexes, the offline
CLI from manifest files, and tests from literals. A missing object or key is refused
with the field path of the reference.

The rules live here because every read passes through here:

- A Secret is read only when its owner marked it as an input of obreg (``may_read``).
- Whatever comes from a Secret stays in a Secret. A read made through ``tracked()``
  records whether any Secret was read, and the bundle places every file whose rendering
  read one in the workload's Secret, never its ConfigMap: a base file, a password, a
  client id or secret, a CA, whichever renderer reads it.
- Offline only (``obreg render --placeholder-secrets``): a Secret that is not among the
  manifests, or is there only in a form no reader can open (a SealedSecret, an
  ExternalSecret, a SOPS-encrypted Secret), stands in as a placeholder where its value is
  used as text: derived from namespace, name and key, plainly not real, and recorded per
  file. Where the bytes themselves are needed (a certificate, a keystore, a base file) no
  placeholder can work, and the read is refused saying so. A Secret present is always
  read: no placeholder ever replaces a known value.
- One rule for a Secret value used as text (a password, a client id or secret, a user
  name): UTF-8, surrounding whitespace removed (``echo`` and editors add a trailing
  newline that would otherwise become part of a password), never empty, no control
  character. When the rule changed a value, a warning says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace

from ..api.common import ConfigMapKeyRef, FileSource, SecretKeyRef
from ..errors import Where

# (namespace, name) -> key -> bytes. ConfigMap data and binaryData are merged.
Objects = Mapping[tuple[str, str], Mapping[str, bytes]]

_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


# A Secret's owner lets obreg's resources read it with this label, as the KM credentials'
# owner names the hosts they may go to: whoever may create an obreg resource in a
# namespace but not read its Secrets can then not make obreg use any other Secret there
# (as a password to try, a file to compare, a CA to list).
INPUT_LABEL = "obreg.dev/input"


def may_read(labels: Mapping[str, str]) -> bool:
    """Whether a Secret with ``labels`` is an input obreg's resources may read."""
    return labels.get(INPUT_LABEL) == "true"


class MarkedInputs(Mapping[tuple[str, str], Mapping[str, str]]):
    """The labels of Secrets obreg generated itself and holds before its watch shows
    them: each marked as an input, as it is created (render/objects.py). A live view,
    so a Secret generated after it was made is marked too."""

    def __init__(self, generated: Mapping[tuple[str, str], object]) -> None:
        self._generated = generated

    def __getitem__(self, key: tuple[str, str]) -> Mapping[str, str]:
        if key not in self._generated:
            raise KeyError(key)
        return {INPUT_LABEL: "true"}

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._generated)

    def __len__(self) -> int:
        return len(self._generated)


@dataclass
class ReadLog:
    """What one rendering read: whether any Secret, and the warnings of the text rule."""

    secret: bool = False
    warnings: list[str] = field(default_factory=list)
    placeholders: set[str] = field(default_factory=set)  # "namespace/name" stood in for


def placeholder_text(namespace: str, name: str, key: str) -> str:
    """The stand-in of a Secret value used as text: one per key, the same every run."""
    return f"placeholder-not-real-{namespace}-{name}-{key}"


@dataclass(frozen=True)
class Inputs:
    secrets: Objects = field(default_factory=dict)
    config_maps: Objects = field(default_factory=dict)
    log: ReadLog | None = None
    # The key of the published digest (render/digest.py): the operator's, or one given to
    # `obreg render`; None renders the unkeyed digest that leaves Secret-derived bytes out.
    digest_key: bytes | None = field(default=None, repr=False)
    # Offline: Secrets known only in a form obreg cannot read ((namespace, name) -> what and
    # where), and whether absent or unreadable Secrets stand in as placeholders.
    unreadable: Mapping[tuple[str, str], str] = field(default_factory=dict)
    placeholders: bool = False
    # Each Secret's labels, for the opt-in rule (``may_read``). The operator and the CLI
    # always give them; None (tests of a renderer alone) reads every Secret given.
    secret_labels: Mapping[tuple[str, str], Mapping[str, str]] | None = None

    def tracked(self) -> Inputs:
        """The same inputs with a fresh ``log`` of what is read through them."""
        return replace(self, log=ReadLog())

    def secret(self, namespace: str, ref: SecretKeyRef, where: Where) -> bytes:
        if self.log is not None:
            self.log.secret = True
        if self._stands_in(namespace, ref.name):
            seen = self.unreadable.get((namespace, ref.name))
            raise where.refuse(
                f"Secret {namespace}/{ref.name} is "
                + (f"only {seen} in the manifests" if seen else "not in the manifests")
                + ": a placeholder cannot stand in for a certificate, keystore or file",
                "give the Secret itself to render this, or keep this source in a ConfigMap",
            )
        if self._withheld(namespace, ref.name):
            raise where.refuse(
                f"Secret {namespace}/{ref.name} is not marked as an input of obreg",
                f"its owner labels it {INPUT_LABEL}=true to let obreg's resources read it",
            )
        return self._lookup("Secret", self.secrets, namespace, ref.name, ref.key, where)

    def _withheld(self, namespace: str, name: str) -> bool:
        """Present, but its owner did not mark it as an input of obreg."""
        if self.secret_labels is None or (namespace, name) not in self.secrets:
            return False
        return not may_read(self.secret_labels.get((namespace, name), {}))

    def _stands_in(self, namespace: str, name: str) -> bool:
        return self.placeholders and (namespace, name) not in self.secrets

    def secret_text(
        self, namespace: str, ref: SecretKeyRef, where: Where, placeholder: bool = True
    ) -> str:
        """A Secret value used as text, by the one rule above; a placeholder where one
        may stand in (not for a password that must open an existing keystore)."""
        if placeholder and self._stands_in(namespace, ref.name):
            if self.log is not None:
                self.log.secret = True
                self.log.placeholders.add(f"{namespace}/{ref.name}")
            return placeholder_text(namespace, ref.name, ref.key)
        raw = self.secret(namespace, ref, where)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise where.refuse(
                f"Secret {namespace}/{ref.name} key {ref.key!r} is not UTF-8 text"
            ) from None
        value = text.strip(" \t\r\n")
        if not value:
            raise where.refuse(f"Secret {namespace}/{ref.name} key {ref.key!r} is empty")
        if _CONTROL.search(value):
            raise where.refuse(
                f"Secret {namespace}/{ref.name} key {ref.key!r} holds a control character",
                "store the value alone, without line breaks or control characters",
            )
        if value != text and self.log is not None:
            self.log.warnings.append(
                f"Secret {namespace}/{ref.name} key {ref.key!r}: surrounding whitespace "
                "(such as a trailing newline) was removed from the value"
            )
        return value

    def config_map(self, namespace: str, ref: ConfigMapKeyRef, where: Where) -> bytes:
        return self._lookup("ConfigMap", self.config_maps, namespace, ref.name, ref.key, where)

    def file(self, namespace: str, source: FileSource, where: Where) -> bytes:
        if source.secret_key_ref is not None:
            return self.secret(namespace, source.secret_key_ref, where.child("secretKeyRef"))
        assert source.config_map_key_ref is not None  # FileSource validates exactly one
        return self.config_map(namespace, source.config_map_key_ref, where.child("configMapKeyRef"))

    def _lookup(
        self, kind: str, objects: Objects, namespace: str, name: str, key: str, where: Where
    ) -> bytes:
        data = objects.get((namespace, name))
        seen = self.unreadable.get((namespace, name)) if kind == "Secret" else None
        if data is None and seen:
            raise where.refuse(
                f"Secret {namespace}/{name} is only {seen} in the manifests, which obreg "
                "cannot read",
                "render with --placeholder-secrets to preview with placeholders",
            )
        if data is None:
            raise where.refuse(
                f"{kind} {namespace}/{name} not found", f"create the {kind} or fix the name"
            )
        if key not in data:
            # A ConfigMap's keys help; a Secret's are not told to whoever may only name it.
            hint = (
                f"keys present: {', '.join(sorted(data)) or 'none'}"
                if kind == "ConfigMap"
                else "check the key's name with someone who may read the Secret"
            )
            raise where.refuse(f"{kind} {namespace}/{name} has no key {key!r}", hint)
        return data[key]
