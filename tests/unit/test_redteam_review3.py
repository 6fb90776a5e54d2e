"""Third review pass: classes of attack the earlier fixes closed for the cases named,
checked here for the cases they did not name. Each test is one rule for a whole class:

1. an OIDC claim obreg makes or remaps on the Key Manager is one of its own, never a
   claim OpenID Connect or WSO2's stock OIDC dialect defines: obreg maps its claim to a
   local claim on the KM (updateExternalClaim) and in a fresh database's
   claim-config.xml, and a claim every application's tokens carry (sub, email) remapped
   to http://wso2.org/claims/active would change every login of the Key Manager.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from obreg.api import crd, names
from obreg.api.kinds import SERVICE_PROVIDER
from obreg.api.service_provider import OidcClaim

# -- 1. OIDC claims the product defines -------------------------------------------------

# A sample of the claims every OIDC client of the KM reads: the ID token's subject, the
# profile claims and the ones WSO2's own dialect adds.
PRODUCT_CLAIMS = ["sub", "email", "email_verified", "given_name", "groups", "address", "upn"]


@given(st.sampled_from(PRODUCT_CLAIMS), st.data())
def test_a_product_claim_is_refused_in_any_case(claim: str, data: st.DataObject) -> None:
    cased = "".join(data.draw(st.sampled_from([c.lower(), c.upper()])) for c in claim)
    with pytest.raises(ValidationError, match="reserves"):
        OidcClaim.model_validate({"claimUri": cased})


@pytest.mark.parametrize("claim", ["tpp_associated", "subject_id", "email2", "ob_role"])
def test_a_claim_of_its_own_is_accepted(claim: str) -> None:
    assert OidcClaim.model_validate({"claimUri": claim}).claim_uri == claim


def test_every_reserved_claim_is_refused_and_the_crd_says_so() -> None:
    for claim in names.PRODUCT_OIDC_CLAIMS:
        with pytest.raises(ValidationError):
            OidcClaim.model_validate({"claimUri": claim})
    schema = crd.definition(SERVICE_PROVIDER)["spec"]["versions"][0]["schema"]
    field = schema["openAPIV3Schema"]["properties"]["spec"]["properties"]["oidcClaim"]
    rules = field["properties"]["claimUri"]["x-kubernetes-validations"]
    assert any("'sub'" in r["rule"] for r in rules)
