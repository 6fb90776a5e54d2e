"""obreg's kinds in one place: what each of its resources is called (kind, plural,
singular, short names), its models, which of its spec fields name the workloads it writes
into, and how its name is bounded.

Everything else that depends on the kind (the CRDs, parsing, the API paths, the
operator's watches and store, discovery, the manifests reader, the render's Namespace)
loops over ``KINDS`` or looks one up in ``BY_KIND``; what a kind renders is the one
kind-specific table in render/bundle.py. tests/unit/test_kinds_registry.py fails when a
kind's name or plural is spelled anywhere else in operator/obreg, so adding a kind or
changing its plural or targets is a change here. The chart, being YAML, cannot import
it: the same test holds the chart's RBAC rules to it.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, get_origin

from . import identity_provider, names, service_provider, trust_anchor
from .common import Model, Status, WorkloadRef


@dataclass(frozen=True)
class TargetField:
    """A spec field that names workloads: one ``WorkloadRef``, or a list of them."""

    attribute: str  # as pydantic has it (snake_case)
    alias: str  # as the manifest has it (camelCase), for paths in messages
    many: bool


@dataclass(frozen=True)
class Kind:
    """One of obreg's resources, as every module that depends on the kind reads it."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    spec: type[Model]
    status: type[Status]
    description: str  # the CRD's, shown by kubectl explain
    # The spec fields (snake_case) that name the workloads it writes into, in the order a
    # message names the first that matches.
    target_attributes: tuple[str, ...]
    # Its list in render.bundle.Namespace.
    namespace_field: str
    # The longest name it may have: less than any object's where its name becomes part
    # of another object's (names.py).
    name_limit: int = names.SUBDOMAIN_MAX

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @functools.cached_property
    def target_fields(self) -> tuple[TargetField, ...]:
        fields = self.spec.model_fields
        return tuple(
            TargetField(
                attribute,
                fields[attribute].alias or attribute,
                get_origin(fields[attribute].annotation) is list,
            )
            for attribute in self.target_attributes
        )

    def targets(self, spec: Model) -> list[WorkloadRef]:
        """The workloads a valid spec writes files into, in field order (maybe repeated)."""
        found: list[WorkloadRef] = []
        for target in self.target_fields:
            value = getattr(spec, target.attribute)
            found.extend(value if target.many else [value])
        return found

    def target_path(self, spec: Model, workload: WorkloadRef) -> str:
        """Where a valid spec names ``workload`` (its first mention), for messages."""
        for target in self.target_fields:
            value = getattr(spec, target.attribute)
            if target.many and workload in value:
                return f"spec.{target.alias}[{value.index(workload)}]"
            if not target.many and value == workload:
                return f"spec.{target.alias}"
        raise ValueError(f"{self.kind} does not target {workload.kind}/{workload.name}")

    def raw_targets(self, spec: Mapping[str, Any]) -> frozenset[WorkloadRef]:
        """Best-effort targets of a spec that did not validate: every entry of a target
        field that names a workload; whatever cannot is skipped."""
        found: list[Any] = []
        for target in self.target_fields:
            value = spec.get(target.alias)
            found.extend(list(value or []) if target.many else [value])
        refs = set()
        for item in found:
            if isinstance(item, Mapping) and isinstance(item.get("name"), str):
                try:
                    refs.add(WorkloadRef(kind=item.get("kind", "Deployment"), name=item["name"]))
                except ValueError:
                    continue
        return frozenset(refs)


TRUST_ANCHOR = Kind(
    kind="OBTrustAnchor",
    plural="obtrustanchors",
    short_names=("obta",),
    spec=trust_anchor.OBTrustAnchorSpec,
    status=trust_anchor.OBTrustAnchorStatus,
    description="CA certificates rendered into the client truststores of WSO2 workloads.",
    target_attributes=("targets",),
    namespace_field="trust_anchors",
)
IDENTITY_PROVIDER = Kind(
    kind="OBIdentityProvider",
    plural="obidentityproviders",
    short_names=("obidp",),
    spec=identity_provider.OBIdentityProviderSpec,
    status=identity_provider.OBIdentityProviderStatus,
    description="The Open Banking directory as the Key Manager's federated OIDC identity provider.",
    target_attributes=("target",),
    namespace_field="identity_providers",
)
SERVICE_PROVIDER = Kind(
    kind="OBServiceProvider",
    plural="observiceproviders",
    short_names=("obsp",),
    spec=service_provider.OBServiceProviderSpec,
    status=service_provider.OBServiceProviderStatus,
    description="The API Manager store's login through the Key Manager and the OB directory.",
    target_attributes=("key_manager", "api_manager"),
    namespace_field="service_providers",
    name_limit=names.SERVICE_PROVIDER_NAME_MAX,  # the Secret obreg-<name>-client
)

# In the order obreg lists, renders and generates them.
KINDS = (TRUST_ANCHOR, IDENTITY_PROVIDER, SERVICE_PROVIDER)
BY_KIND = {kind.kind: kind for kind in KINDS}
