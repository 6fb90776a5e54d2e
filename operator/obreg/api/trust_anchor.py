"""OBTrustAnchor: the CA certificates a client truststore must trust.

Replaces the runbook's ``keytool -import -alias tpproot|tppissuer`` into
repository/resources/security/client-truststore.jks of the Key Manager and API Manager.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from .common import (
    ConfigMapKeyRef,
    FileSource,
    Model,
    SecretKeyRef,
    Status,
    WorkloadRef,
    cel,
)
from .names import TruststoreAlias, TruststorePath

KeystoreType = Literal["JKS", "PKCS12"]

DEFAULT_PASSWORD = "wso2carbon"
_EXTENSION_MESSAGE = "the path's extension must say the format: .jks for JKS, .p12 for PKCS12"
DEFAULT_PATHS: dict[str, str] = {
    "JKS": "repository/resources/security/client-truststore.jks",
    "PKCS12": "repository/resources/security/client-truststore.p12",
}


class CertificateSource(Model):
    """One source of CA certificates: inline PEM, or a Secret or ConfigMap key holding a
    PEM bundle (one or more certificates) or a single DER certificate."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                "[has(self.inline), has(self.secretKeyRef), has(self.configMapKeyRef)]"
                ".filter(x, x).size() == 1",
                "set exactly one of inline, secretKeyRef and configMapKeyRef",
            )
        )
    )

    alias: TruststoreAlias | None = Field(
        default=None,
        description=(
            "Truststore alias, as keytool's -alias (e.g. tpproot, tppissuer); not one the "
            "products look up by name (gateway_certificate_alias, wso2carbon). Only for a "
            "source that holds exactly one certificate; otherwise each certificate gets an "
            "alias derived from its subject common name and fingerprint."
        ),
    )
    inline: str | None = Field(
        default=None, max_length=1_000_000, description="PEM text of one or more certificates."
    )
    secret_key_ref: SecretKeyRef | None = Field(
        default=None, description="A Secret key holding PEM or DER certificates."
    )
    config_map_key_ref: ConfigMapKeyRef | None = Field(
        default=None, description="A ConfigMap key (data or binaryData) holding PEM or DER."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> CertificateSource:
        given = [
            self.inline is not None,
            self.secret_key_ref is not None,
            self.config_map_key_ref is not None,
        ]
        if sum(given) != 1:
            raise ValueError("set exactly one of inline, secretKeyRef and configMapKeyRef")
        return self


class BaseKeystore(Model):
    """The product's stock truststore, merged underneath the anchors so the CAs it
    already trusts stay trusted."""

    source: FileSource = Field(description="Where the keystore file is.")
    type: KeystoreType = Field(default="JKS", description="JKS or PKCS12.")
    password_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description="Secret key holding the keystore's password; wso2carbon when unset.",
    )


class TruststoreOutput(Model):
    """The truststore file obreg writes into each target workload."""

    model_config = ConfigDict(
        json_schema_extra=cel(
            (
                "!has(self.path) || self.path.endsWith('.p12') == "
                "(has(self.format) && self.format == 'PKCS12')",
                _EXTENSION_MESSAGE,
            )
        )
    )

    format: KeystoreType = Field(default="JKS", description="JKS (default) or PKCS12.")
    path: TruststorePath | None = Field(
        default=None,
        description=(
            "Path relative to the product home: a file directly in "
            "repository/resources/security/ whose name ends in truststore.jks (JKS) or "
            "truststore.p12 (PKCS12), so it never replaces another product file; at most "
            "253 characters, no '__'. "
            "Default: repository/resources/security/client-truststore.jks (.p12 for PKCS12)."
        ),
    )
    password_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description=(
            "Secret key holding the output keystore's password. When unset the product "
            "default wso2carbon is used and a warning is reported."
        ),
    )

    @model_validator(mode="after")
    def _extension_says_format(self) -> TruststoreOutput:
        if self.path is not None and self.path.endswith(".p12") != (self.format == "PKCS12"):
            raise ValueError(_EXTENSION_MESSAGE)
        return self

    @property
    def resolved_path(self) -> str:
        return self.path or DEFAULT_PATHS[self.format]


class OBTrustAnchorSpec(Model):
    """CA certificates to trust, and the workloads whose client truststore holds them."""

    targets: list[WorkloadRef] = Field(
        min_length=1,
        max_length=32,
        description="Workloads (Key Manager, API Manager) whose client truststore this is.",
    )
    certificates: list[CertificateSource] = Field(
        min_length=1, max_length=256, description="Sources of the CA certificates to trust."
    )
    base_keystore: BaseKeystore | None = Field(
        default=None, description="The product's stock client truststore to merge into."
    )
    replace_existing_aliases: bool = Field(
        default=False,
        description=(
            "Allow an anchor alias to replace a base keystore entry of the same alias. When "
            "false such a collision is an error."
        ),
    )
    output: TruststoreOutput = Field(
        default_factory=TruststoreOutput, description="Format, path and password of the file."
    )
    expiry_warning_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Warn when a certificate expires within this many days.",
    )


class CertificateSummary(Model):
    """What one trusted certificate is, as reported in status."""

    alias: str = Field(description="Alias in the truststore.")
    subject: str = Field(description="Subject distinguished name (RFC 4514).")
    issuer: str = Field(description="Issuer distinguished name (RFC 4514).")
    not_after: str = Field(description="End of validity (RFC 3339).")
    sha256: str = Field(description="SHA-256 fingerprint of the DER certificate, hex.")
    warnings: list[str] = Field(
        default_factory=list, description="Expired, not yet valid, not a CA, unknown issuer."
    )


class OBTrustAnchorStatus(Status):
    """Observed state of an OBTrustAnchor."""

    certificates: list[CertificateSummary] = Field(
        default_factory=list, description="The anchor's certificates as last rendered."
    )
