"""Every file obreg writes for one workload, and the digest that decides its rollouts.

A workload's bundle gathers what every resource in its namespace contributes to it: the
truststore from the anchors that target it; on a Key Manager the IdP and SP files,
identity.xml and (fresh database) the claim and scope files; on an API Manager site.json,
open-banking.xml, api-manager.xml and the locale files. A file whose rendering read
any Secret (the IdP file, site.json, the SP file with its client id, and any file made
from a base file, password or CA kept in a Secret) is placed in the workload's Secret;
the rest may go to its ConfigMap (see inputs.py).

The bundle is refused whole when it could not become objects Kubernetes accepts: two
outputs of one name in the namespace, a path that is also another's folder, two paths
with one key, or more than 1 MiB in the ConfigMap or the Secret.

The digest covers each file's path, placement and fingerprint, where a fingerprint is the
SHA-256 of the bytes, except for PKCS12 whose salted bytes change on every render: there
it is computed over the keystore's semantic inputs. Same inputs, same digest; keyed, since
it is published (render/digest.py). Fingerprints themselves never leave the process.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..api import names
from ..api.common import FileSource, WorkloadRef
from ..api.identity_provider import OBIdentityProviderSpec
from ..api.kinds import BY_KIND, IDENTITY_PROVIDER, KINDS, SERVICE_PROVIDER, TRUST_ANCHOR
from ..api.resource import Resource
from ..api.service_provider import OBServiceProviderSpec
from ..api.trust_anchor import CertificateSummary, OBTrustAnchorSpec
from ..errors import InvalidInput, Label, Problem, Where
from . import (
    apim_xml,
    credentials,
    digest,
    fresh_database,
    identity_provider,
    identity_xml,
    locale,
    service_provider,
    site_json,
    truststore,
)
from .deadline import Deadline
from .inputs import Inputs

# Kubernetes refuses a ConfigMap or Secret whose values add up to more than this.
OBJECT_DATA_MAX = 1024 * 1024


@dataclass(frozen=True)
class File:
    path: str  # relative to the product home
    content: bytes
    secret: bool  # embeds a secret: must be mounted from a Secret
    fingerprint: str
    owner: Label  # the resource that produced it, for conflict messages

    @property
    def key(self) -> str:
        """The ConfigMap/Secret data key: keys cannot hold '/'; no path obreg writes
        holds '__' (names.RelativePath), and two paths with one key are refused."""
        return self.path.replace("/", names.KEY_SEPARATOR)


@dataclass(frozen=True)
class Bundle:
    namespace: str
    workload: WorkloadRef
    files: tuple[File, ...]
    certificates: dict[str, list[CertificateSummary]] = field(default_factory=dict)
    warnings: dict[Label, list[str]] = field(default_factory=dict)
    digest_key: bytes | None = field(default=None, repr=False, compare=False)
    # For review only, never in obreg's objects: each truststore's listing by its path
    # (render/listing.py), and the placeholder Secrets each file was rendered with.
    listings: dict[str, str] = field(default_factory=dict, compare=False)
    placeholders: dict[str, list[str]] = field(default_factory=dict, compare=False)

    @functools.cached_property
    def digest(self) -> str:
        """Published: keyed, so it says nothing of a Secret value (render/digest.py).
        Kept once worked out: a reconcile asks for it about eight times, and the bundle
        and its files never change."""
        return digest.of(self.files, self.digest_key)


@dataclass(frozen=True)
class Namespace:
    """Every obreg resource of one namespace, validated. Built whole and never changed
    (rules/state.py, manifests.py), so what every workload's render asks of the whole
    namespace (its conflicts, who targets what) is worked out once and kept: asked
    again per workload, 4,000 anchors took 84 s to render where 9 s is linear."""

    name: str
    trust_anchors: list[Resource[OBTrustAnchorSpec]] = field(default_factory=list)
    identity_providers: list[Resource[OBIdentityProviderSpec]] = field(default_factory=list)
    service_providers: list[Resource[OBServiceProviderSpec]] = field(default_factory=list)

    @classmethod
    def of(cls, name: str, resources: Iterable[Resource[Any]]) -> Namespace:
        """The namespace of ``resources``, each in its kind's list, in the order given."""
        lists: dict[str, list[Resource[Any]]] = {k.namespace_field: [] for k in KINDS}
        for resource in resources:
            lists[BY_KIND[resource.kind].namespace_field].append(resource)
        return cls(name, **lists)

    def resources(self) -> list[Resource[Any]]:
        """Every resource, kind by kind in KINDS order."""
        return [r for kind in KINDS for r in getattr(self, kind.namespace_field)]

    def workloads(self) -> list[WorkloadRef]:
        return sorted(self._contributors, key=lambda w: (w.kind, w.name))

    def contributors(self, workload: WorkloadRef) -> list[Resource[Any]]:
        """The resources that target ``workload``, in ``resources()`` order."""
        return list(self._contributors.get(workload, ()))

    def identity_provider(self, name: str) -> Resource[OBIdentityProviderSpec] | None:
        """The first identity provider of that name."""
        return self._identity_providers.get(name)

    def conflicts(self) -> list[Problem]:
        """Outputs that would share a name in this namespace: obreg-<workload> for a
        Deployment and a StatefulSet of one name, or for a workload named like the
        client credentials Secret obreg generates for a service provider
        (obreg-<name>-client). Each problem names a resource that causes it."""
        return list(self._conflicts)

    @functools.cached_property
    def _contributors(self) -> dict[WorkloadRef, list[Resource[Any]]]:
        index: dict[WorkloadRef, list[Resource[Any]]] = {}
        for resource in self.resources():
            for workload in targets(resource):
                index.setdefault(workload, []).append(resource)
        return index

    @functools.cached_property
    def _identity_providers(self) -> dict[str, Resource[OBIdentityProviderSpec]]:
        index: dict[str, Resource[OBIdentityProviderSpec]] = {}
        for idp in self.identity_providers:
            index.setdefault(idp.name, idp)
        return index

    @functools.cached_property
    def _conflicts(self) -> tuple[Problem, ...]:
        problems: list[Problem] = []
        workloads = self.workloads()
        kinds: dict[str, set[str]] = {}
        outputs: dict[str, list[WorkloadRef]] = {}
        for workload in workloads:
            kinds.setdefault(workload.name, set()).add(workload.kind)
            outputs.setdefault(names.OUTPUT_PREFIX + workload.name, []).append(workload)
        for resource in self.resources():
            clashing = [w for w in targets(resource) if len(kinds[w.name]) > 1]
            if clashing:  # one problem per resource, at its first such target
                workload = min(clashing, key=lambda w: _target_path(resource, w))
                problems.append(
                    Problem(
                        resource.label,
                        _target_path(resource, workload),
                        f"both a Deployment and a StatefulSet named {workload.name} are targeted",
                        "obreg names its output after the workload; target one of them",
                    )
                )
        for sp in self.service_providers:
            if sp.spec.client_credentials.client_id_ref is not None:
                continue
            secret = credentials.generated_secret_name(sp.name)
            for workload in outputs.get(secret, []):
                message = (
                    f"the client credentials Secret {secret} of {sp.label} and the output of "
                    f"{workload.kind}/{workload.name} would have one name"
                )
                hint = (
                    f"rename the workload or the {SERVICE_PROVIDER.kind}, or set clientCredentials"
                )
                problems.append(Problem(sp.label, "spec.clientCredentials", message, hint))
                problems += [
                    Problem(r.label, _target_path(r, workload), message, hint)
                    for r in self._contributors[workload]
                ]
        return tuple(dict.fromkeys(problems))


def targets(resource: Resource[Any]) -> set[WorkloadRef]:
    """The workloads a resource writes files into."""
    return set(BY_KIND[resource.kind].targets(resource.spec))


def _target_path(resource: Resource[Any], workload: WorkloadRef) -> str:
    return BY_KIND[resource.kind].target_path(resource.spec, workload)


class _Files:
    """Collects a workload's files. Each is rendered through its own tracked inputs, so a
    file is placed in the Secret exactly when its rendering read a Secret (or it carries
    one by nature), and the Secret-value warnings land on the resource that read them.
    Also what the bundle reports beside the files: each anchor's certificates and each
    truststore's listing."""

    def __init__(self, inputs: Inputs, deadline: Deadline, now: datetime.datetime) -> None:
        self.inputs = inputs
        self.deadline = deadline
        self.now = now
        self.files: list[File] = []
        self.certificates: dict[str, list[CertificateSummary]] = {}
        self.listings: dict[str, str] = {}
        self.warnings: dict[Label, list[str]] = {}
        self.placeholders: dict[str, list[str]] = {}

    def add(
        self,
        path: str,
        owner: Label,
        render: Callable[[Inputs], bytes],
        fingerprint: Callable[[bytes], str] | None = None,
    ) -> None:
        self.deadline.check(owner)
        tracked = self.inputs.tracked()
        content = render(tracked)
        assert tracked.log is not None
        self.warnings.setdefault(owner, []).extend(tracked.log.warnings)
        if tracked.log.placeholders:
            self.placeholders[path] = sorted(tracked.log.placeholders)
        self.files.append(
            File(
                path,
                content,
                tracked.log.secret,
                fingerprint(content) if fingerprint else hashlib.sha256(content).hexdigest(),
                owner,
            )
        )


def render(
    namespace: Namespace,
    workload: WorkloadRef,
    inputs: Inputs,
    now: datetime.datetime,
    clock: Callable[[], float] = time.monotonic,
) -> Bundle:
    """The bundle of one workload, within budgets.RENDER_SECONDS of ``clock``."""
    deadline = Deadline.start(clock)
    contributors = namespace.contributors(workload)
    labels = {r.label for r in contributors}
    conflicts = [p for p in namespace.conflicts() if p.resource in labels]
    if conflicts:
        raise InvalidInput(conflicts)
    out = _Files(inputs, deadline, now)
    for kind in KINDS:
        mine = [r for r in contributors if r.kind == kind.kind]
        if mine:
            _CONTRIBUTIONS[kind.kind](out, namespace, workload, mine)

    files = _unique(out.files)
    _check_objects(files, sorted(labels, key=str))
    return Bundle(
        namespace.name,
        workload,
        files,
        out.certificates,
        {label: out.warnings[label] for label in sorted(labels, key=str) if label in out.warnings},
        inputs.digest_key,
        out.listings,
        {path: out.placeholders[path] for path in sorted(out.placeholders)},
    )


def _anchor_files(
    out: _Files, namespace: Namespace, workload: WorkloadRef, anchors: list[Resource[Any]]
) -> None:
    """One truststore of every anchor that targets the workload (at the first's path)."""
    stores: list[truststore.Truststore] = []

    def store_bytes(tracked: Inputs) -> bytes:
        stores.append(truststore.render(anchors, tracked, out.now, out.deadline))
        return stores[-1].content

    path = anchors[0].spec.output.resolved_path
    out.add(path, anchors[0].label, store_bytes, lambda _: stores[-1].fingerprint)
    out.certificates.update(stores[-1].summaries)
    out.listings[path] = stores[-1].listing
    for anchor in anchors:
        out.warnings.setdefault(anchor.label, []).extend(stores[-1].warnings[anchor.name])


def _identity_provider_files(
    out: _Files, namespace: Namespace, workload: WorkloadRef, idps: list[Resource[Any]]
) -> None:
    """Each identity provider's file (its workload is a Key Manager)."""
    for idp in idps:
        out.add(
            identity_provider.path(idp.spec),
            idp.label,
            functools.partial(identity_provider.render, idp),
        )


def _service_provider_files(
    out: _Files, namespace: Namespace, workload: WorkloadRef, sps: list[Resource[Any]]
) -> None:
    """A Key Manager's files of each service provider on it; an API Manager's of its one
    service provider (two are refused: a store has one login)."""
    for sp in sps:
        if sp.spec.key_manager == workload:
            _key_manager_files(out, sp, _identity_provider(namespace, sp))

    apim_sps = [sp for sp in sps if sp.spec.api_manager == workload]
    if len(apim_sps) > 1:
        first, second = apim_sps[0], apim_sps[1]
        conflict = (
            "a conflicting signatureAlgorithm"
            if first.spec.signature_algorithm != second.spec.signature_algorithm
            else "the same API Manager"
        )
        raise Where(second.label, "spec.apiManager").refuse(
            f"{first.label} already configures this API Manager's store login ({conflict})",
            f"an API Manager has one store login: keep one {SERVICE_PROVIDER.kind} per API "
            "Manager",
        )
    for sp in apim_sps:
        _api_manager_files(out, sp)


# What each kind adds to the bundle of a workload it targets (its resources that target
# the workload, in the namespace's order); rendered kind by kind in KINDS order.
_CONTRIBUTIONS: dict[
    str, Callable[[_Files, Namespace, WorkloadRef, list[Resource[Any]]], None]
] = {
    TRUST_ANCHOR.kind: _anchor_files,
    IDENTITY_PROVIDER.kind: _identity_provider_files,
    SERVICE_PROVIDER.kind: _service_provider_files,
}


def _identity_provider(
    namespace: Namespace, sp: Resource[OBServiceProviderSpec]
) -> Resource[OBIdentityProviderSpec]:
    where = Where(sp.label, "spec.identityProviderRef")
    idp = namespace.identity_provider(sp.spec.identity_provider_ref)
    if idp is None:
        raise where.refuse(
            f"{IDENTITY_PROVIDER.kind} {namespace.name}/{sp.spec.identity_provider_ref} not "
            "found",
            "create it or fix the name",
        )
    if idp.spec.target != sp.spec.key_manager:
        raise where.refuse(
            f"{idp.label} targets {idp.spec.target.kind}/{idp.spec.target.name}, but "
            f"spec.keyManager is {sp.spec.key_manager.kind}/{sp.spec.key_manager.name}",
            "the IdP and the SP must be on the same Key Manager",
        )
    return idp


def _key_manager_files(
    out: _Files, sp: Resource[OBServiceProviderSpec], idp: Resource[OBIdentityProviderSpec]
) -> None:
    spec, base = sp.spec, sp.spec.base_files
    where = Where(sp.label, "spec.baseFiles")

    def service_provider_file(tracked: Inputs) -> bytes:
        client_id = credentials.resolve(sp, tracked).client_id
        return service_provider.render(spec, client_id, idp.spec.identity_provider_name)

    out.add(service_provider.path(spec), sp.label, service_provider_file)
    out.add(
        identity_xml.PATH,
        sp.label,
        lambda tracked: identity_xml.patch(
            tracked.file(sp.namespace, base.identity_xml, where.child("identityXml")),
            where.child("identityXml"),
        ),
    )
    if spec.fresh_database:
        assert base.claim_config_xml is not None and base.oidc_scope_config_xml is not None
        claims, scopes = base.claim_config_xml, base.oidc_scope_config_xml
        claim_where = where.child("claimConfigXml")
        scope_where = where.child("oidcScopeConfigXml")
        out.add(
            fresh_database.CLAIM_CONFIG_PATH,
            sp.label,
            lambda tracked: fresh_database.patch_claim_config(
                tracked.file(sp.namespace, claims, claim_where), spec.oidc_claim, claim_where
            ),
        )
        out.add(
            fresh_database.OIDC_SCOPE_CONFIG_PATH,
            sp.label,
            lambda tracked: fresh_database.patch_oidc_scope_config(
                tracked.file(sp.namespace, scopes, scope_where),
                spec.oidc_claim.claim_uri,
                scope_where,
            ),
        )


def _api_manager_files(out: _Files, sp: Resource[OBServiceProviderSpec]) -> None:
    spec, base = sp.spec, sp.spec.base_files
    where = Where(sp.label, "spec.baseFiles")

    def patched(
        source: FileSource, field_name: str, patch: Callable[[bytes, Where], bytes]
    ) -> Callable[[Inputs], bytes]:
        place = where.child(field_name)
        return lambda tracked: patch(tracked.file(sp.namespace, source, place), place)

    def site_file(tracked: Inputs) -> bytes:
        place = where.child("siteJson")
        data = tracked.file(sp.namespace, base.site_json, place)
        creds = credentials.resolve(sp, tracked)
        return site_json.patch(data, spec, creds.client_id, creds.client_secret, place)

    out.add(site_json.PATH, sp.label, site_file)
    out.add(
        apim_xml.OPEN_BANKING_PATH,
        sp.label,
        patched(
            base.open_banking_xml,
            "openBankingXml",
            lambda data, place: apim_xml.patch_open_banking(data, spec.signature_algorithm, place),
        ),
    )
    out.add(
        apim_xml.API_MANAGER_PATH,
        sp.label,
        patched(
            base.api_manager_xml,
            "apiManagerXml",
            lambda data, place: apim_xml.patch_api_manager(
                data, spec.application_attributes, place
            ),
        ),
    )
    if spec.id_column:
        assert base.locale_default is not None and base.locale_en is not None
        for source, field_name, path in (
            (base.locale_default, "localeDefault", locale.DEFAULT_PATH),
            (base.locale_en, "localeEn", locale.EN_PATH),
        ):
            out.add(path, sp.label, patched(source, field_name, locale.patch))


def _unique(files: Iterable[File]) -> tuple[File, ...]:
    """Files sorted by path. Two contributions to one path must be identical (a copy
    read from a Secret makes the file a Secret's); no path may be another's folder,
    and no two paths may share a key."""
    by_path: dict[str, File] = {}
    for item in files:
        existing = by_path.get(item.path)
        if existing is not None:
            if existing.fingerprint != item.fingerprint:
                raise Where(item.owner, "spec").refuse(
                    f"writes {item.path}, which {existing.owner} also writes with other content",
                    "make the two resources agree, or target different workloads",
                )
            item = File(
                item.path,
                item.content,
                item.secret or existing.secret,
                item.fingerprint,
                existing.owner,
            )
        by_path[item.path] = item
    ordered = tuple(by_path[p] for p in sorted(by_path))
    folders: dict[str, str] = {}  # each folder of a path -> the first path inside it
    for path in by_path:
        at = path.find("/")
        while at != -1:
            folders.setdefault(path[:at], path)
            at = path.find("/", at + 1)
    keys: dict[str, File] = {}
    for item in ordered:
        folder = folders.get(item.path)
        if folder is not None:
            raise Where(item.owner, "spec").refuse(
                f"writes the file {item.path}, which {by_path[folder].owner} needs as a "
                f"folder for {folder}",
                "choose another output path",
            )
        if item.key in keys:
            raise Where(item.owner, "spec").refuse(
                f"writes {item.path}, whose key {item.key} is also the key of "
                f"{keys[item.key].path}",
                "choose another output path",
            )
        keys[item.key] = item
    return ordered


def _check_objects(files: tuple[File, ...], contributors: list[Label]) -> None:
    """The limits the API server enforces on the ConfigMap and Secret, checked before
    anything is written, so a refusal names the resources instead of an apply failing."""
    problems: list[Problem] = []
    for item in files:
        if len(item.key) > names.KEY_MAX:
            problems.append(
                Problem(
                    item.owner,
                    "spec",
                    f"the key of {item.path} is longer than {names.KEY_MAX} characters",
                    "choose a shorter path or name",
                )
            )
    for secret, kind in ((False, "ConfigMap"), (True, "Secret")):
        size = sum(len(f.content) for f in files if f.secret == secret)
        if size > OBJECT_DATA_MAX:
            problems += [
                Problem(
                    label,
                    "spec",
                    f"the workload's {kind} would hold {size} bytes; Kubernetes allows "
                    f"{OBJECT_DATA_MAX}",
                    "split the truststore or the base files across workloads, or trim them",
                )
                for label in contributors
            ]
    if problems:
        raise InvalidInput(problems)
