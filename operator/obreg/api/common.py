"""Types shared by the three resources: references, workload targets, conditions, status.

Every field carries a description because the CRDs are generated from these models and
``kubectl explain`` is how a platform engineer reads the API.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

from .names import ILLEGAL_TEXT_MESSAGE, DataKey, ObjectName, WorkloadName, legal_text

GROUP = "obreg.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"


def cel(*rules: tuple[str, str]) -> JsonDict:
    """CEL rules for the generated CRD (``x-kubernetes-validations``), as (rule, message).
    The same check is made in Python by a validator beside it, so ``obreg render`` refuses
    what the API server would refuse."""
    return {"x-kubernetes-validations": [{"rule": r, "message": m} for r, m in rules]}


class Model(BaseModel):
    """camelCase on the wire, snake_case in Python; unknown fields are refused so a typo
    in a manifest is an error rather than a silently ignored setting."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )

    @field_validator("*", mode="after")
    @classmethod
    def _legal_text(cls, value: Any) -> Any:
        """Every text field lands in an XML or JSON file, a status or a message: one rule
        for all of them refuses what XML cannot carry and terminal control characters."""
        texts = value if isinstance(value, list | tuple) else [value]
        if any(isinstance(t, str) and not legal_text(t) for t in texts):
            raise ValueError(ILLEGAL_TEXT_MESSAGE)
        return value


class SecretKeyRef(Model):
    """One key of a Secret in the resource's namespace."""

    name: ObjectName = Field(description="Name of the Secret, in the resource's namespace.")
    key: DataKey = Field(description="Key within the Secret's data.")


class ConfigMapKeyRef(Model):
    """One key of a ConfigMap in the resource's namespace (data or binaryData)."""

    name: ObjectName = Field(description="Name of the ConfigMap, in the resource's namespace.")
    key: DataKey = Field(description="Key within the ConfigMap's data or binaryData.")


class FileSource(Model):
    """A file's bytes from exactly one ConfigMap or Secret key."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                "has(self.configMapKeyRef) != has(self.secretKeyRef)",
                "set exactly one of configMapKeyRef and secretKeyRef",
            )
        )
    )

    config_map_key_ref: ConfigMapKeyRef | None = Field(
        default=None, description="Read the file from a ConfigMap key."
    )
    secret_key_ref: SecretKeyRef | None = Field(
        default=None, description="Read the file from a Secret key."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> FileSource:
        if (self.config_map_key_ref is None) == (self.secret_key_ref is None):
            raise ValueError("set exactly one of configMapKeyRef and secretKeyRef")
        return self


WorkloadKind = Literal["Deployment", "StatefulSet"]


class WorkloadRef(Model):
    """A Deployment or StatefulSet in the resource's namespace whose pods read the files."""

    kind: WorkloadKind = Field(
        default="Deployment", description="Kind of the workload: Deployment or StatefulSet."
    )
    name: WorkloadName = Field(
        description=(
            "Name of the workload, in the resource's namespace (at most 63 characters: "
            "obreg labels its output with it)."
        )
    )


class Condition(Model):
    """A status condition in the shape of metav1.Condition, so kubectl wait, Flux and
    Argo CD read it."""

    type: str = Field(
        description=(
            "Condition type: Ready, Reconciling, Stalled, or (service providers) "
            "KeyManagerDatabase."
        )
    )
    status: Literal["True", "False", "Unknown"] = Field(description="True, False or Unknown.")
    reason: str = Field(description="CamelCase reason for the last transition.")
    message: str = Field(default="", description="Human-readable detail.")
    observed_generation: int | None = Field(
        default=None, description="The .metadata.generation this condition was set for."
    )
    last_transition_time: str = Field(description="When the status last changed (RFC 3339).")


class TargetResult(Model):
    """What happened on one target workload."""

    kind: WorkloadKind = Field(description="Kind of the workload.")
    name: str = Field(description="Name of the workload.")
    state: Literal["Applied", "WaitingForWorkload", "Blocked", "Failed"] = Field(
        description=(
            "Applied: its files are current. WaitingForWorkload: it does not exist yet. "
            "Blocked: another resource of it is invalid, so it keeps its last good files. "
            "Failed: rendering or applying failed."
        )
    )
    message: str = Field(default="", description="Detail.")
    digest: str = Field(default="", description="Digest of the files it was given.")


class Status(Model):
    """Fields every obreg status has, in kstatus form."""

    observed_generation: int | None = Field(
        default=None, description="The .metadata.generation the status describes."
    )
    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready, Reconciling and Stalled (kstatus) and more conditions.",
    )
    targets: list[TargetResult] = Field(
        default_factory=list, description="Per target workload, what was done."
    )
    workloads: str = Field(
        default="", description="The target workloads, comma-separated (for kubectl get)."
    )
    warnings: list[str] = Field(
        default_factory=list, description="Things to fix that do not stop reconciling."
    )
