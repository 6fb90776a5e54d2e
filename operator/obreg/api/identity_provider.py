"""OBIdentityProvider: the Open Banking directory as the Key Manager's federated OIDC
identity provider.

Replaces the runbook's console steps "Add an identity provider with OAuth2-OpenID
Connect", its claim configuration and its just-in-time provisioning. Rendered as a
file-based identity provider (repository/conf/identity/identity-providers/<name>.xml),
which holds the client secret and so goes into the workload's Secret.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator

from .common import Model, SecretKeyRef, Status, WorkloadRef, cel
from .names import EndpointUrl, IdentityProviderName, LocalClaimUri, OneLine, first_duplicate

ClaimUri = Annotated[str, Field(min_length=1, max_length=512, pattern=r"^\S+$")]
_UNIQUE_LOCAL_RULE = "self.all(m, self.exists_one(n, n.local == m.local))"
_UNIQUE_LOCAL_MESSAGE = "a local claim is mapped from two remote claims; map each local claim once"


class ClaimMapping(Model):
    """An identity provider claim and the local claim it maps to."""

    remote: ClaimUri = Field(description="Identity Provider Claim URI (e.g. tpp_associated).")
    local: LocalClaimUri = Field(
        description=(
            "Local Claim URI, of WSO2's local dialect http://wso2.org/claims "
            "(e.g. http://wso2.org/claims/active)."
        )
    )


DEFAULT_CLAIM_MAPPINGS = (
    ClaimMapping(remote="tpp_associated", local="http://wso2.org/claims/active"),
    # The runbook prints https://wso2.org/claims/emailaddress; WSO2's local claim dialect
    # is http://wso2.org/claims, so the https form names no claim and maps nothing.
    ClaimMapping(remote="email", local="http://wso2.org/claims/emailaddress"),
)


class ClaimConfig(Model):
    """The identity provider's claim configuration."""

    user_id_claim: ClaimUri = Field(default="email", description="User ID Claim URI.")
    mappings: list[ClaimMapping] = Field(
        default_factory=lambda: list(DEFAULT_CLAIM_MAPPINGS),
        min_length=1,
        max_length=64,
        description=(
            "Claim mappings; the runbook's tpp_associated and email by default. Each remote "
            "claim and each local claim at most once: WSO2 would use one mapping of two."
        ),
        json_schema_extra={
            # The API server refuses two mappings of one remote claim itself; CEL the rest.
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["remote"],
            **cel((_UNIQUE_LOCAL_RULE, _UNIQUE_LOCAL_MESSAGE)),
        },
    )

    @field_validator("mappings")
    @classmethod
    def _each_claim_once(cls, mappings: list[ClaimMapping]) -> list[ClaimMapping]:
        remote = first_duplicate([m.remote for m in mappings])
        if remote is not None:
            raise ValueError(f"the remote claim {remote} is mapped twice; map it once")
        if first_duplicate([m.local for m in mappings]) is not None:
            raise ValueError(_UNIQUE_LOCAL_MESSAGE)
        return mappings


class Provisioning(Model):
    """Just-in-time provisioning of federated users."""

    enabled: bool = Field(default=True, description="Provision federated users at login.")
    user_store_domain: str = Field(
        default="PRIMARY",
        min_length=1,
        max_length=64,
        pattern=r"^[A-Za-z0-9._-]+$",
        description="'Always provision to User Store Domain': the domain to provision into.",
    )
    silent: bool = Field(
        default=True,
        description=(
            "'Provision silently': no password provisioning, no username change, no consent prompt."
        ),
    )


class OBIdentityProviderSpec(Model):
    """The OB directory's OIDC endpoints and the client the ASPSP was issued there."""

    target: WorkloadRef = Field(description="The Key Manager workload.")
    identity_provider_name: IdentityProviderName = Field(
        default="OBDirectory",
        description=(
            "Identity provider name in the Key Manager, also the file name; not a name the "
            "Key Manager reserves (default, LOCAL in any case). A name starting with SHARED_ "
            "makes the Key Manager persist it into its database."
        ),
    )
    display_name: OneLine = Field(
        default="Open Banking Directory", max_length=256, description="Display name."
    )
    client_id: OneLine = Field(
        min_length=1, max_length=256, description="Client ID issued by the OB directory."
    )
    client_secret_ref: SecretKeyRef = Field(
        description="Secret key holding the client secret issued by the OB directory."
    )
    authorization_endpoint: EndpointUrl = Field(description="Authorization endpoint URL.")
    token_endpoint: EndpointUrl = Field(description="Token endpoint URL.")
    user_info_endpoint: EndpointUrl | None = Field(
        default=None, description="UserInfo endpoint URL."
    )
    logout_endpoint: EndpointUrl | None = Field(default=None, description="Logout endpoint URL.")
    callback_url: EndpointUrl = Field(
        description=(
            "https://<keymanager host>:<port>/commonauth; also the redirect URI of the SSA."
        )
    )
    query_parameters: OneLine = Field(
        default="scope=openid email profile&prompt=login",
        max_length=1024,
        description="Additional query parameters sent to the authorization endpoint.",
    )
    user_id_in_claims: bool = Field(
        default=True, description="OpenID Connect User ID Location: 'User ID found among claims'."
    )
    basic_auth: bool = Field(
        default=True, description="Enable HTTP Basic auth for client authentication."
    )
    claims: ClaimConfig = Field(default_factory=ClaimConfig, description="Claim configuration.")
    provisioning: Provisioning = Field(
        default_factory=Provisioning, description="Just-in-time provisioning."
    )


class OBIdentityProviderStatus(Status):
    """Observed state of an OBIdentityProvider."""
