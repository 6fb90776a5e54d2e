"""`obreg import --key-manager` against the double: a KM whose OAuth app, OIDC claim and
scope were made by hand, imported, and then the operator's own Key Manager pass
(kube/key_manager.KeyManagerSteps) run on the imported manifests: it finds everything in
place and writes nothing. The app afterwards is the app before, field for field, with
the same consumer key and secret; the double's record of calls shows reads only.

And each thing the first reconcile would change is reported by item, with exit 1 and
nothing written, never with a secret in the report.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
import datetime
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import yaml

from obreg.api.common import TargetResult, WorkloadRef
from obreg.km.destination import ALLOWED_HOSTS_ANNOTATION, authority
from obreg.kube.indexes import Indexes
from obreg.kube.key_manager import KeyManagerSteps
from obreg.rules import state, status
from obreg.rules.holdings import Held
from obreg.rules.workload import Rollout, summarize
from testbed import kmdouble
from tests.km.test_app_settings import CONSOLE
from tests.unit.test_import_handmade import NS, STOREPASS, Homes, build, run_import
from tests.unit.test_import_handmade import copy as copy_homes

CLIENT_ID, CLIENT_SECRET = "store-client-by-hand", "store-secret-by-hand"
ADMIN_PASSWORD = "km-admin-pw"
APP_NAME = "apim_store_ob"
CALLBACK = "https://apim.bank.example:9443/store/jagg/jaggery_oidc_acs_ob.jag"
GRANTS = "authorization_code refresh_token"  # not obreg's default: read from the KM
FILES = TargetResult(kind="Deployment", name="wso2-km", state="Applied", digest="d1")
KM = WorkloadRef(kind="Deployment", name="wso2-km")
NOW = datetime.datetime(2026, 12, 6, 22, 0, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Homes:
    return build(tmp_path_factory.mktemp("homes"), STOREPASS)


@pytest.fixture
def homes(pristine: Homes, tmp_path: Path) -> Homes:
    return copy_homes(pristine, tmp_path)


@pytest.fixture(params=[False, True], ids=["plain", "hashing"])
def km(request: pytest.FixtureRequest) -> Iterator[tuple[kmdouble.KmDouble, bytes]]:
    """A KM configured by hand: the store's app registered with site.json's credentials
    and every console setting changed, the claim added and put into the openid scope."""
    double, ca = kmdouble.new(password=ADMIN_PASSWORD)
    double.hash_secrets = request.param
    configure_by_hand(double)
    yield double, ca
    double.stop()


def configure_by_hand(double: kmdouble.KmDouble) -> None:
    """What the runbook's console steps leave in the KM: the store's app registered with
    site.json's credentials (every console setting changed), the claim, the scope entry.
    Also the KM of the adoption on the real node (tests/real/test_adoption.py)."""
    double.handle(
        "registerOAuthApplicationData",
        {
            "application": {
                "applicationName": APP_NAME,
                "oauthConsumerKey": CLIENT_ID,
                "oauthConsumerSecret": CLIENT_SECRET,
                "callbackUrl": CALLBACK,
                "grantTypes": GRANTS,
                "OAuthVersion": "OAuth-2.0",
            }
        },
    )
    double.db.apps[CLIENT_ID].update(CONSOLE)
    double.db.claims["tpp_associated"] = "http://wso2.org/claims/active"
    double.db.scopes["openid"].append("tpp_associated")


def import_from(
    km: tuple[kmdouble.KmDouble, bytes],
    homes: Homes,
    out: Path,
    namespace: str = NS,
    **secret: Any,
) -> tuple[int, str]:
    """Run `obreg import --key-manager` with the credentials Secret's manifest as its
    owner writes it (the hosts the credentials may go to in its annotation)."""
    double, ca = km
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/basic-auth",
        "metadata": {
            "name": "km-admin",
            "namespace": namespace,
            "annotations": {ALLOWED_HOSTS_ANNOTATION: authority(double.url)},
        },
        "data": {
            "username": base64.b64encode(b"admin").decode(),
            "password": base64.b64encode(ADMIN_PASSWORD.encode()).decode(),
        },
        **secret,
    }
    given = out.parent / "km-admin.yaml"
    given.write_text(yaml.safe_dump(manifest))
    (out.parent / "km-ca.crt").write_bytes(ca)
    return run_import(
        homes,
        out,
        "--key-manager",
        double.url,
        "--key-manager-credentials",
        str(given),
        "--key-manager-ca",
        str(out.parent / "km-ca.crt"),
        "--key-manager-server-name",
        "localhost",
        namespace=namespace,
    )


def first_reconcile(out: Path) -> bool:
    """The operator's Key Manager pass over the imported manifests, as the watches would
    hold them once applied, with the KM running obreg's files; whether it asks for a retry."""
    objects = [
        o
        for name in ("service-provider.yaml", "secrets.yaml")
        for o in yaml.safe_load_all((out / name).read_text())
    ]
    sp = next(o for o in objects if o["kind"] == "OBServiceProvider")
    held = {
        (NS, o["metadata"]["name"]): Held(
            {k: v.encode() for k, v in (o.get("stringData") or o.get("data")).items()},
            o["metadata"].get("labels", {}),
            o["metadata"].get("annotations", {}),
            (),
        )
        for o in objects
        if o["kind"] in ("Secret", "ConfigMap")
    }
    workload = dataclasses.replace(
        summarize({"kind": "Deployment", "metadata": {"name": KM.name, "namespace": NS}}),
        digest="d1",
        rollout=Rollout(True, 1),
    )
    indexes = Indexes(
        custom=[{NS: {sp["metadata"]["name"]: sp}}],
        secrets={k: v for k, v in held.items() if k[1] != "wso2-km-ca"},
        config_maps={k: v for k, v in held.items() if k[1] == "wso2-km-ca"},
        workloads={(NS, KM.kind, KM.name): workload},
    )
    written: list[dict[str, Any]] = []
    steps = KeyManagerSteps(
        api=cast(Any, None),  # posts an event only for a change: none is expected
        settle_seconds=0,
        files=lambda _rid, _ref: FILES,
        written={},
        generated={},
        write_statuses=cast(Any, None),
        digest_key=None,
    )

    async def write_statuses(snap: state.Snapshot, _: Any) -> None:
        shown = steps.result(snap.namespace.service_providers[0], None, indexes)
        written.append(status.build(1, [FILES], [], None, NOW, key_manager=shown))

    steps.write_statuses = write_statuses
    retry = asyncio.run(steps._steps((NS, sp["metadata"]["name"]), indexes, False))
    shown = written[-1]["keyManagerDatabase"]
    assert shown["state"] == "Synced", shown["message"]
    assert "found already in place" in shown["message"]
    return retry


def test_the_first_reconcile_adopts_the_app_made_by_hand(
    km: tuple[kmdouble.KmDouble, bytes], homes: Homes, tmp_path: Path
) -> None:
    double, _ = km
    before = copy.deepcopy((double.db.apps, double.db.claims, double.db.scopes))
    out = tmp_path / "adopted"
    code, stderr = import_from(km, homes, out)
    assert (code, stderr.count("unrepresentable")) == (0, 0), stderr
    assert double.writes() == [], "the import only reads"
    sp = next(
        o
        for o in yaml.safe_load_all((out / "service-provider.yaml").read_text())
        if o["kind"] == "OBServiceProvider"
    )
    assert sp["spec"]["grantTypes"] == GRANTS.split()
    assert sp["spec"]["oidcClaim"] == {
        "claimUri": "tpp_associated",
        "mappedLocalClaim": "http://wso2.org/claims/active",
    }
    assert sp["spec"]["keyManagerAdmin"]["credentialsSecret"] == "km-admin"
    double.calls.clear()
    assert first_reconcile(out) is False
    assert double.calls and double.writes() == [], f"reads only: {double.calls}"
    assert (double.db.apps, double.db.claims, double.db.scopes) == before
    app = double.db.apps[CLIENT_ID]
    assert app["oauthConsumerSecret"] == double.stored_secret(CLIENT_SECRET)
    for where in (stderr, *(p.read_text() for p in out.iterdir() if p.name != "secrets.yaml")):
        assert CLIENT_SECRET not in where and ADMIN_PASSWORD not in where


def _other_owner(double: kmdouble.KmDouble) -> None:
    """Only an app of the name with another client id: not the credentials obreg holds."""
    app = double.db.apps.pop(CLIENT_ID)
    double.db.apps["someone-elses"] = {**app, "oauthConsumerKey": "someone-elses"}


CHANGES = {
    "another client id": (
        _other_owner,
        "key-manager:OAuthAdminService: OAuthConsumerApp[apim_store_ob]: obreg's first "
        "reconcile would stop here: an OAuth app named apim_store_ob exists already with "
        "another client id (someone-elses); obreg does not take over an app it cannot tell "
        "is its own: delete that app in the Key Manager, or give this OBServiceProvider its "
        "credentials (spec.clientCredentials)",
    ),
    "another secret": (
        lambda d: d.db.apps[CLIENT_ID].update(oauthConsumerSecret=d.stored_secret("other")),
        "key-manager:OAuthAdminService: OAuthConsumerApp[apim_store_ob]: obreg's first "
        "reconcile would change this: re-registered OAuth app apim_store_ob (new secret)",
    ),
    "another callback": (
        lambda d: d.db.apps[CLIENT_ID].update(callbackUrl="regexp=https://apim.bank.example/.*"),
        "key-manager:OAuthAdminService: OAuthConsumerApp[apim_store_ob]: obreg's first "
        "reconcile would change this: updated OAuth app apim_store_ob: callback URL",
    ),
    "no claim": (
        lambda d: d.db.claims.pop("tpp_associated"),
        "key-manager:ClaimMetadataManagementService: ExternalClaim[tpp_associated]: obreg's "
        "first reconcile would change this: added OIDC claim tpp_associated -> "
        "http://wso2.org/claims/active",
    ),
    "a local claim of another dialect": (
        lambda d: d.db.claims.update(tpp_associated="urn:bank:claims:tpp"),
        "key-manager:ClaimMetadataManagementService: ExternalClaim[tpp_associated]: obreg's "
        "model refuses the value: String should match pattern "
        "'^http://wso2[.]org/claims/[A-Za-z0-9._~-]+(/[A-Za-z0-9._~-]+)*$'",
    ),
    "more grant types than obreg keeps": (
        lambda d: d.db.apps[CLIENT_ID].update(grantTypes=" ".join(f"g{i}" for i in range(17))),
        "key-manager:OAuthAdminService: OAuthConsumerApp[apim_store_ob]: obreg's model "
        "refuses spec.grantTypes: List should have at most 16 items after validation, not 17",
    ),
    "claim not in the scope": (
        lambda d: d.db.scopes["openid"].remove("tpp_associated"),
        "key-manager:OAuthAdminService: Scope[openid]: obreg's first reconcile would change "
        "this: added tpp_associated to scope openid",
    ),
}


@pytest.mark.parametrize("case", CHANGES)
def test_what_the_first_reconcile_would_change_is_reported(
    km: tuple[kmdouble.KmDouble, bytes], homes: Homes, tmp_path: Path, case: str
) -> None:
    double, _ = km
    change, line = CHANGES[case]
    change(double)
    out = tmp_path / "adopted"
    code, stderr = import_from(km, homes, out)
    assert code == 1 and not out.exists()
    reports = [x for x in stderr.splitlines() if "unrepresentable:" in x]
    assert reports == [f"obreg import: unrepresentable: {line}"], stderr
    assert double.writes() == []
    assert CLIENT_SECRET not in stderr and ADMIN_PASSWORD not in stderr


def test_the_table_in_the_docs_has_every_line() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "importing.md").read_text()
    rows = dict(re.findall(r"^\| ([^|`]+) \| `(key-manager:[^`]+)` \|$", doc, re.M))
    assert rows == {case: line for case, (_, line) in CHANGES.items()}


def test_credentials_not_allowed_to_the_km_refuse_the_import(
    km: tuple[kmdouble.KmDouble, bytes], homes: Homes, tmp_path: Path
) -> None:
    """The operator's destination rule: no host listed by the Secret's owner, no call."""
    double, _ = km
    code, stderr = import_from(km, homes, tmp_path / "adopted", metadata={"name": "km-admin"})
    assert code == 1 and "does not allow its credentials to be sent to" in stderr
    assert double.calls == [] and double.unauthorized == 0
