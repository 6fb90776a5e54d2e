"""Every file obreg writes for one workload, and the digest that decides its rollouts.

A workload's bundle gathers what every resource in its namespace contributes to it: the
truststore from the anchors that target it; on a Key Manager the IdP and SP files,
identity.xml and (fresh database) the claim and scope files; on an API Manager site.json,
open-banking.xml, api-manager.xml and the locale files. Files that embed a secret (IdP
XML, site.json) are marked for the workload's Secret; the rest may go to its ConfigMap.

The digest covers each file's path, placement and fingerprint, where a fingerprint is the
SHA-256 of the bytes, except for PKCS12 whose salted bytes change on every render: there
it is computed over the keystore's semantic inputs. Same inputs, same digest.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..api.common import FileSource, WorkloadRef
from ..api.identity_provider import OBIdentityProviderSpec
from ..api.resource import Resource
from ..api.service_provider import OBServiceProviderSpec
from ..api.trust_anchor import CertificateSummary, OBTrustAnchorSpec
from ..errors import Where
from . import (
    apim_xml,
    fresh_database,
    identity_provider,
    identity_xml,
    locale,
    service_provider,
    site_json,
    truststore,
)
from .credentials import ClientCredentials
from .inputs import Inputs


@dataclass(frozen=True)
class File:
    path: str  # relative to the product home
    content: bytes
    secret: bool  # embeds a secret: must be mounted from a Secret
    fingerprint: str
    owner: str  # the resource that produced it, for conflict messages

    @property
    def key(self) -> str:
        """The ConfigMap/Secret data key: keys cannot hold '/', and '__' never occurs in
        the products' paths, so the mapping is reversible."""
        return self.path.replace("/", "__")


@dataclass(frozen=True)
class Bundle:
    namespace: str
    workload: WorkloadRef
    files: tuple[File, ...]
    contributors: tuple[str, ...]  # labels of the resources that target this workload
    certificates: dict[str, list[CertificateSummary]] = field(default_factory=dict)
    warnings: dict[str, list[str]] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        manifest = [[f.path, f.secret, f.fingerprint] for f in self.files]
        return hashlib.sha256(json.dumps(manifest).encode()).hexdigest()


@dataclass(frozen=True)
class Namespace:
    """Every obreg resource of one namespace, validated."""

    name: str
    trust_anchors: list[Resource[OBTrustAnchorSpec]] = field(default_factory=list)
    identity_providers: list[Resource[OBIdentityProviderSpec]] = field(default_factory=list)
    service_providers: list[Resource[OBServiceProviderSpec]] = field(default_factory=list)

    def resources(self) -> list[Resource[Any]]:
        return [*self.trust_anchors, *self.identity_providers, *self.service_providers]

    def workloads(self) -> list[WorkloadRef]:
        targets: set[WorkloadRef] = set()
        for anchor in self.trust_anchors:
            targets.update(anchor.spec.targets)
        for idp in self.identity_providers:
            targets.add(idp.spec.target)
        for sp in self.service_providers:
            targets.update((sp.spec.key_manager, sp.spec.api_manager))
        return sorted(targets, key=lambda w: (w.kind, w.name))


def _file(
    path: str, content: bytes, secret: bool, owner: str, fingerprint: str | None = None
) -> File:
    return File(path, content, secret, fingerprint or hashlib.sha256(content).hexdigest(), owner)


def render(
    namespace: Namespace,
    workload: WorkloadRef,
    inputs: Inputs,
    credentials: dict[str, ClientCredentials],
    now: datetime.datetime,
) -> Bundle:
    """The bundle of one workload. ``credentials`` maps each OBServiceProvider's name to
    its resolved client credentials (see credentials.resolve)."""
    files: list[File] = []
    contributors: list[str] = []
    certificates: dict[str, list[CertificateSummary]] = {}
    warnings: dict[str, list[str]] = {}

    anchors = [a for a in namespace.trust_anchors if workload in a.spec.targets]
    if anchors:
        store = truststore.render(anchors, inputs, now)
        files.append(_file(store.path, store.content, False, anchors[0].label, store.fingerprint))
        contributors += [a.label for a in anchors]
        certificates.update(store.summaries)
        for anchor in anchors:
            warnings[anchor.label] = store.warnings[anchor.name]

    for idp in namespace.identity_providers:
        if idp.spec.target == workload:
            files.append(
                _file(
                    identity_provider.path(idp.spec),
                    identity_provider.render(idp, inputs),
                    True,
                    idp.label,
                )
            )
            contributors.append(idp.label)

    km_sps = [sp for sp in namespace.service_providers if sp.spec.key_manager == workload]
    for sp in km_sps:
        idp = _identity_provider(namespace, sp)
        files += _key_manager_files(sp, idp, inputs, credentials[sp.name])
        contributors.append(sp.label)

    apim_sps = [sp for sp in namespace.service_providers if sp.spec.api_manager == workload]
    if len(apim_sps) > 1:
        first, second = apim_sps[0], apim_sps[1]
        conflict = (
            "a conflicting signatureAlgorithm"
            if first.spec.signature_algorithm != second.spec.signature_algorithm
            else "the same API Manager"
        )
        raise Where(second.label, "spec.apiManager").refuse(
            f"{first.label} already configures this API Manager's store login ({conflict})",
            "an API Manager has one store login: keep one OBServiceProvider per API Manager",
        )
    for sp in apim_sps:
        files += _api_manager_files(sp, inputs, credentials[sp.name])
        if sp.label not in contributors:
            contributors.append(sp.label)

    return Bundle(
        namespace.name,
        workload,
        _unique(files),
        tuple(sorted(contributors)),
        certificates,
        warnings,
    )


def _identity_provider(
    namespace: Namespace, sp: Resource[OBServiceProviderSpec]
) -> Resource[OBIdentityProviderSpec]:
    where = Where(sp.label, "spec.identityProviderRef")
    idp = next(
        (i for i in namespace.identity_providers if i.name == sp.spec.identity_provider_ref), None
    )
    if idp is None:
        raise where.refuse(
            f"OBIdentityProvider {namespace.name}/{sp.spec.identity_provider_ref} not found",
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
    sp: Resource[OBServiceProviderSpec],
    idp: Resource[OBIdentityProviderSpec],
    inputs: Inputs,
    creds: ClientCredentials,
) -> list[File]:
    spec, base = sp.spec, sp.spec.base_files
    where = Where(sp.label, "spec.baseFiles")
    files = [
        _file(
            service_provider.path(spec),
            service_provider.render(spec, creds.client_id, idp.spec.identity_provider_name),
            False,
            sp.label,
        ),
        _file(
            identity_xml.PATH,
            identity_xml.patch(
                inputs.file(sp.namespace, base.identity_xml, where.child("identityXml")),
                where.child("identityXml"),
            ),
            False,
            sp.label,
        ),
    ]
    if spec.fresh_database:
        assert base.claim_config_xml is not None and base.oidc_scope_config_xml is not None
        claim_where = where.child("claimConfigXml")
        scope_where = where.child("oidcScopeConfigXml")
        files += [
            _file(
                fresh_database.CLAIM_CONFIG_PATH,
                fresh_database.patch_claim_config(
                    inputs.file(sp.namespace, base.claim_config_xml, claim_where),
                    spec.oidc_claim,
                    claim_where,
                ),
                False,
                sp.label,
            ),
            _file(
                fresh_database.OIDC_SCOPE_CONFIG_PATH,
                fresh_database.patch_oidc_scope_config(
                    inputs.file(sp.namespace, base.oidc_scope_config_xml, scope_where),
                    spec.oidc_claim.claim_uri,
                    scope_where,
                ),
                False,
                sp.label,
            ),
        ]
    return files


def _api_manager_files(
    sp: Resource[OBServiceProviderSpec], inputs: Inputs, creds: ClientCredentials
) -> list[File]:
    spec, base = sp.spec, sp.spec.base_files
    where = Where(sp.label, "spec.baseFiles")

    def read(source: FileSource, field_name: str) -> tuple[bytes, Where]:
        place = where.child(field_name)
        return inputs.file(sp.namespace, source, place), place

    site, site_where = read(base.site_json, "siteJson")
    ob, ob_where = read(base.open_banking_xml, "openBankingXml")
    am, am_where = read(base.api_manager_xml, "apiManagerXml")
    files = [
        _file(
            site_json.PATH,
            site_json.patch(site, spec, creds.client_id, creds.client_secret, site_where),
            True,
            sp.label,
        ),
        _file(
            apim_xml.OPEN_BANKING_PATH,
            apim_xml.patch_open_banking(ob, spec.signature_algorithm, ob_where),
            False,
            sp.label,
        ),
        _file(
            apim_xml.API_MANAGER_PATH,
            apim_xml.patch_api_manager(am, spec.application_attributes, am_where),
            False,
            sp.label,
        ),
    ]
    if spec.id_column:
        assert base.locale_default is not None and base.locale_en is not None
        for source, field_name, path in (
            (base.locale_default, "localeDefault", locale.DEFAULT_PATH),
            (base.locale_en, "localeEn", locale.EN_PATH),
        ):
            data, place = read(source, field_name)
            files.append(_file(path, locale.patch(data, place), False, sp.label))
    return files


def _unique(files: Iterable[File]) -> tuple[File, ...]:
    """Files sorted by path; two contributions to one path must be identical."""
    by_path: dict[str, File] = {}
    for item in files:
        existing = by_path.get(item.path)
        if existing is not None and existing.fingerprint != item.fingerprint:
            raise Where(item.owner, "spec").refuse(
                f"writes {item.path}, which {existing.owner} also writes with other content",
                "make the two resources agree, or target different workloads",
            )
        by_path[item.path] = item
    return tuple(by_path[p] for p in sorted(by_path))
