"""One rule for every name and path that comes from input, with the limits Kubernetes
and the products really have, checked where input enters (the models and ``parse``).

Each name obreg turns into something else is bounded by what it becomes:

- a workload name becomes the value of the label ``obreg.dev/workload`` (63 characters,
  the label-value limit) and the object name ``obreg-<workload>``;
- an OBServiceProvider name becomes the Secret name ``obreg-<name>-client`` (253);
- an identity provider or application name becomes a file name under the product home;
- an output path becomes a file under the product home and, with ``/`` written as
  ``__``, a ConfigMap or Secret key (253 characters of ``[-._a-zA-Z0-9]``).

Patterns use only what both pydantic's and the API server's regex engines understand (no
look-around), so the CRD refuses what ``obreg render`` refuses.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field

# DNS-1123, as Kubernetes validates object names and namespaces.
_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
SUBDOMAIN_PATTERN = rf"^{_LABEL}(\.{_LABEL})*$"
LABEL_PATTERN = rf"^{_LABEL}$"
SUBDOMAIN_MAX = 253
LABEL_MAX = 63

OUTPUT_PREFIX = "obreg-"  # obreg-<workload>
CREDENTIALS_SUFFIX = "-client"  # obreg-<service provider>-client
# The longest OBServiceProvider name whose credentials Secret name is still legal.
SERVICE_PROVIDER_NAME_MAX = SUBDOMAIN_MAX - len(OUTPUT_PREFIX) - len(CREDENTIALS_SUFFIX)

# A referenced Secret or ConfigMap.
ObjectName = Annotated[
    str, Field(min_length=1, max_length=SUBDOMAIN_MAX, pattern=SUBDOMAIN_PATTERN)
]
# A workload: a DNS-1123 subdomain short enough to be a label value.
WorkloadName = Annotated[str, Field(min_length=1, max_length=LABEL_MAX, pattern=SUBDOMAIN_PATTERN)]

# A key of a Secret or ConfigMap that a resource reads (Kubernetes' own key rule).
DataKey = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")]

# A file name obreg writes (IdP and SP files): starts with a letter or digit, so never
# "." or "..", and holds no separator.
FileName = Annotated[
    str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
]


def _reserved(
    kind: str,
    exact: tuple[str, ...],
    any_case: tuple[str, ...],
    listed: str | None = None,
    owner: str = "the Key Manager",
) -> tuple[Any, ...]:
    """A name chosen by a user that is not one of the names the Key Manager gives its own
    meaning, compared as WSO2 compares each (read in carbon-identity-framework and
    identity-inbound-auth-oauth at the 5.12 and 7.x tags): ``exact`` where every check is
    case-sensitive, ``any_case`` where any check ignores case. A neighbour (``Default``,
    ``default-sp``) means nothing special to WSO2 and is accepted. ``listed`` says in a
    few words which names the message means, where they are too many to list; ``owner``
    is the product that gives them their meaning."""
    names = listed or ", ".join([*exact, *(f"{n} in any case" for n in any_case)])
    lowered = {n.lower() for n in any_case}
    message = f"is a name {owner} reserves for its own {kind} ({names}); choose another"

    def check(value: str) -> str:
        if value in exact or value.lower() in lowered:
            raise ValueError(message)
        return value

    rule = " && ".join(
        [f"self != '{n}'" for n in exact] + [f"self.lowerAscii() != '{n}'" for n in sorted(lowered)]
    )
    return (
        Field(json_schema_extra={"x-kubernetes-validations": [{"rule": rule, "message": message}]}),
        AfterValidator(check),
    )


# The service provider names WSO2 reserves: "default" is the file-based fallback SP of
# every client without its own (service-providers/default.xml; writing it would send
# their logins through the Open Banking directory); wso2carbon-local-sp is the resident
# SP (renaming to it is refused whatever the case); Console is 7.x's own console app.
ServiceProviderName = Annotated[
    FileName, *_reserved("service providers", ("default", "Console"), ("wso2carbon-local-sp",))
]
# The identity provider names WSO2 reserves: LOCAL is the resident identity provider
# (some checks ignore case), "default" the file-based fallback for every unknown name.
IdentityProviderName = Annotated[
    FileName, *_reserved("identity providers", ("default",), ("LOCAL",))
]

# The OIDC claims the Key Manager already has, which obreg must never add or remap (its
# OIDC claim is mapped to a local claim on the KM and in a fresh database's
# claim-config.xml, and every application's ID tokens carry these): the standard claims
# and address members of OpenID Connect Core 1.0 (sections 5.1 and 5.1.1), the claims of
# its ID token (section 2) and of JWT (RFC 7519), and those WSO2's OIDC dialect adds.
# Compared in any case: a claim differing from one of these in case only is a mistake.
PRODUCT_OIDC_CLAIMS = (
    # OpenID Connect Core 1.0, 5.1 and 5.1.1
    "sub", "name", "given_name", "family_name", "middle_name", "nickname",
    "preferred_username", "profile", "picture", "website", "email", "email_verified",
    "gender", "birthdate", "zoneinfo", "locale", "phone_number", "phone_number_verified",
    "address", "updated_at", "formatted", "street_address", "locality", "region",
    "postal_code", "country",
    # the ID token (OpenID Connect Core 1.0, 2) and JWT (RFC 7519, 4.1)
    "iss", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce", "acr", "amr", "azp",
    "at_hash", "c_hash", "sid",
    # WSO2's OIDC dialect
    "groups", "roles", "upn", "username",
)  # fmt: skip
OIDC_CLAIMS_LISTED = (
    "a claim of OpenID Connect, JWT or WSO2's OIDC dialect, such as sub or email, in any case"
)
OidcClaimName = Annotated[
    str,
    Field(min_length=1, max_length=256, pattern=r"^\S+$"),
    *_reserved("OIDC claims", (), PRODUCT_OIDC_CLAIMS, OIDC_CLAIMS_LISTED),
]

# The truststore aliases the products look up by name, so an anchor's certificate under
# one would be trusted for what the product's own is: API Manager's gateway verifies
# self-contained (JWT) access tokens with the certificate under gateway_certificate_alias;
# wso2carbon is the products' own certificate, the alias their token and SSO checks
# default to. Java compares keystore aliases ignoring case.
TruststoreAlias = Annotated[
    str,
    Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]*$"),
    *_reserved(
        "certificates",
        (),
        ("gateway_certificate_alias", "wso2carbon"),
        owner="WSO2 (Key Manager and API Manager)",
    ),
]

KEY_SEPARATOR = "__"  # "/" in a product path, as a ConfigMap/Secret key
KEY_MAX = 253


def _no_key_separator(path: str) -> str:
    """``__`` stands for ``/`` in keys; a path holding it would share a key with another."""
    if KEY_SEPARATOR in path:
        raise ValueError(f"must not contain {KEY_SEPARATOR!r} (obreg writes '/' as '__' in keys)")
    return path


# A path relative to the product home: segments that start with a letter or digit (so
# no "..", no hidden files, nothing absolute), short enough to be a key.
RELATIVE_PATH_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$"
NO_KEY_SEPARATOR_CEL = {
    "rule": "!self.contains('__')",
    "message": "must not contain '__' (obreg writes '/' as '__' in keys)",
}
RelativePath = Annotated[
    str,
    Field(
        min_length=1,
        max_length=KEY_MAX,
        pattern=RELATIVE_PATH_PATTERN,
        json_schema_extra={"x-kubernetes-validations": [NO_KEY_SEPARATOR_CEL]},
    ),
    AfterValidator(_no_key_separator),
]

# Where a truststore obreg writes may live and what it may be called: directly in the
# folder where WSO2 keeps its keystores, named like one (``client-truststore.jks``). So a
# trust anchor can never name another product file (``bin/wso2server.sh``,
# ``deployment.toml``) nor one of the product's own keystores, which hold its private keys
# (``wso2carbon.jks``, ``userRSA.jks``), and replace it with a truststore.
TRUSTSTORE_FOLDER = "repository/resources/security/"
# "[.]", not an escaped dot: the same text is a CEL string literal in the CRD.
_TRUSTSTORE_PATTERN = (
    r"^repository/resources/security/[A-Za-z0-9][A-Za-z0-9._-]*truststore[.](jks|p12)$"
)
TRUSTSTORE_PATH_MESSAGE = (
    f"must name a file directly in {TRUSTSTORE_FOLDER} whose name ends in 'truststore.jks' "
    "or 'truststore.p12': a truststore never replaces another product file"
)


def _truststore_path(path: str) -> str:
    if re.fullmatch(_TRUSTSTORE_PATTERN, path) is None:
        raise ValueError(TRUSTSTORE_PATH_MESSAGE)
    return path


TruststorePath = Annotated[
    str,
    Field(
        min_length=1,
        max_length=KEY_MAX,
        pattern=RELATIVE_PATH_PATTERN,
        json_schema_extra={
            "x-kubernetes-validations": [
                NO_KEY_SEPARATOR_CEL,
                {
                    "rule": f"self.matches('{_TRUSTSTORE_PATTERN}')",
                    "message": TRUSTSTORE_PATH_MESSAGE,
                },
            ]
        },
    ),
    AfterValidator(_no_key_separator),
    AfterValidator(_truststore_path),
]

# URLs. The authority is a host name or bracketed IPv6 address and a port, never user
# information (a password does not belong in a resource); paths and queries hold only
# RFC 3986 characters, so no whitespace or control character ever reaches a file.
_AUTHORITY = r"([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?"
_PATH = r"(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?"
_QUERY = r"(\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?"
# A base from which obreg derives endpoints by appending a path: no query, no fragment.
BaseUrl = Annotated[str, Field(max_length=2048, pattern=rf"^https://{_AUTHORITY}{_PATH}$")]
# A complete endpoint: a query is allowed (OIDC allows one), a fragment is not.
EndpointUrl = Annotated[
    str, Field(max_length=2048, pattern=rf"^https://{_AUTHORITY}{_PATH}{_QUERY}$")
]

# A claim of WSO2's local dialect (http://wso2.org/claims/emailaddress, .../identity/
# accountLocked): what an IdP claim maps to, an SP requests and an OIDC claim is mapped
# to. The runbook's own https://wso2.org/claims/emailaddress names no claim, and WSO2
# maps nothing to it without a word.
LOCAL_CLAIM_DIALECT = "http://wso2.org/claims"
LocalClaimUri = Annotated[
    str,
    Field(
        min_length=1,
        max_length=256,
        pattern=r"^http://wso2[.]org/claims/[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$",
    ),
]


def first_duplicate(values: list[str]) -> str | None:
    """The first value that occurs twice, or None; in one pass."""
    seen: set[str] = set()
    for value in values:
        if value in seen:
            return value
        seen.add(value)
    return None


# Characters no text field may hold: C0 and C1 controls (tab, newline and carriage return
# aside), DEL, and what XML 1.0 cannot carry at all (surrogates, U+FFFE, U+FFFF).
_ILLEGAL_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
ILLEGAL_TEXT_MESSAGE = "holds a control character or a character XML cannot carry; remove it"


# One line of text, as WSO2 keeps it: WSO2 trims nothing, so a client id written as a
# YAML block scalar would reach the directory as "client-id\n", and a tab in a display
# name or query parameters would reach the login page. Refused, never trimmed: the
# manifest then says exactly what the product gets.
_UNTIDY_MESSAGE = (
    "has surrounding whitespace, a tab or a line break, which WSO2 would keep as part of "
    "the value; remove them (a YAML block scalar adds a line break: use a plain or quoted "
    "string)"
)


def _tidy(value: str) -> str:
    if value != value.strip() or any(c in value for c in "\t\n\r"):
        raise ValueError(_UNTIDY_MESSAGE)
    return value


OneLine = Annotated[
    str,
    Field(
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self == self.trim() && !self.matches('[\\t\\n\\r]')",
                    "message": _UNTIDY_MESSAGE,
                }
            ]
        }
    ),
    AfterValidator(_tidy),
]


def legal_text(value: str) -> bool:
    return _ILLEGAL_TEXT.search(value) is None


def is_subdomain(name: str, limit: int = SUBDOMAIN_MAX) -> bool:
    return len(name) <= limit and re.fullmatch(SUBDOMAIN_PATTERN, name) is not None


def is_label(name: str) -> bool:
    return len(name) <= LABEL_MAX and re.fullmatch(LABEL_PATTERN, name) is not None


# A label or annotation key and a label value, as Kubernetes validates them
# (IsQualifiedName, IsValidLabelValue): an optional DNS-1123 prefix and "/", then a name
# of letters, digits, '-', '_' and '.' that begins and ends alphanumeric.
_QUALIFIED = r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
QUALIFIED_NAME_MAX = 63


def is_qualified_name(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    if slash and not is_subdomain(prefix):
        return False
    return len(name) <= QUALIFIED_NAME_MAX and re.fullmatch(_QUALIFIED, name) is not None


def is_label_value(value: str) -> bool:
    return value == "" or (
        len(value) <= QUALIFIED_NAME_MAX and re.fullmatch(_QUALIFIED, value) is not None
    )
