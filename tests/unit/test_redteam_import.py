"""Red-team reproducers for ``obreg import``: the homes are copied out of running pods,
so whoever controls a pod controls every byte (and every file type and link) in them,
and the bank commits and applies what the import writes.

Rules these check (each fails on the import as first merged):

1. whatever a home's file holds that WSO2 reads as a credential stays out of ConfigMaps
   (docs/importing.md: "No credential or password is ever written to a ConfigMap");
2. nothing outside a home is read as part of it: a link is not followed out of it;
3. every file read from a home has a byte budget, checked before it is read;
4. a home whose file is not what the import expects (a folder named ``x.xml``) is
   refused naming it, never an internal error;
5. what the import could not keep is reported, never dropped silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import jks
import pytest
import yaml

from obreg import budgets
from tests.unit import test_import_handmade as handmade
from tests.unit.test_import_handmade import (
    API_MANAGER,
    IDENTITY,
    IDP,
    LOCALES,
    OPEN_BANKING,
    SITE,
    SP_DIR,
    STOREPASS,
    TRUSTSTORE,
    Homes,
    _edit,
    idp_file,
    keytool,
    run_import,
)

pristine = handmade.pristine  # the homes as the runbook leaves them, built once


@pytest.fixture
def homes(pristine: dict[str, Homes], tmp_path: Path) -> Homes:
    return handmade.copy(pristine[STOREPASS], tmp_path)


def written(out: Path) -> dict[str, list[dict[str, object]]]:
    return (
        {f.name: [d for d in yaml.safe_load_all(f.read_text()) if d] for f in sorted(out.iterdir())}
        if out.is_dir()
        else {}
    )


def config_map_text(out: Path) -> str:
    """Every ConfigMap's data and binaryData, as one text: what anyone who may read
    ConfigMaps in the namespace reads."""
    return "\n".join(
        yaml.safe_dump({**doc.get("data", {}), **doc.get("binaryData", {})})  # type: ignore[dict-item]
        for docs in written(out).values()
        for doc in docs
        if doc.get("kind") == "ConfigMap"
    )


# --- 1. credentials of a base file land in a ConfigMap ------------------------------------

PASSWORD = "hand-set-admin-password-7f3a"


@pytest.mark.parametrize(
    ("home", "path", "old", "new"),
    [
        (  # APIM's admin password for the Key Manager, as runbooks set it
            "apim",
            API_MANAGER,
            "<DataSourceName>",
            f"<AuthManager><ServerURL>https://km:9446/services/</ServerURL>"
            f"<Username>admin</Username><Password>{PASSWORD}</Password></AuthManager>\n"
            "    <DataSourceName>",
        ),
        (  # open-banking.xml's signing keystore password
            "apim",
            OPEN_BANKING,
            "<UK>",
            f"<KeyStore><Location>x.jks</Location><Password>{PASSWORD}</Password></KeyStore>\n"
            "    <UK>",
        ),
        (  # an old client secret left in a comment of site.json
            "apim",
            SITE,
            '"context"',
            f'// "clientSecret": "{PASSWORD}",\n    "context"',
        ),
    ],
    ids=["api-manager.xml AuthManager", "open-banking.xml KeyStore", "site.json comment"],
)
def test_a_base_files_credential_never_lands_in_a_config_map(
    homes: Homes, tmp_path: Path, home: str, path: str, old: str, new: str
) -> None:
    _edit(getattr(homes, home), path, old, new)
    out = tmp_path / "adopted"
    run_import(homes, out)  # no --allow-unrepresentable: nothing is reported
    assert PASSWORD not in config_map_text(out)


# --- 2. links out of a home are followed ---------------------------------------------------

OUTSIDE = '{"auths": {"registry.bank.example": {"auth": "b3BlcmF0b3I6czNjcjN0"}}}'


@pytest.mark.parametrize("linked", ["file", "folder"])
def test_a_link_out_of_the_home_is_not_read(homes: Homes, tmp_path: Path, linked: str) -> None:
    """A pod's tar can carry a symbolic link; the operator's workstation has a
    ~/.docker/config.json. The locale files are plain JSON base files."""
    elsewhere = tmp_path / "operators-home" / ".docker"
    elsewhere.mkdir(parents=True)
    for path in LOCALES:
        (elsewhere / Path(path).name).write_text(OUTSIDE)
    if linked == "file":
        for path in LOCALES:
            (homes.apim / path).unlink()
            (homes.apim / path).symlink_to(elsewhere / Path(path).name)
    else:
        folder = homes.apim / Path(LOCALES[0]).parent
        for path in LOCALES:
            (homes.apim / path).unlink()
        folder.rmdir()
        folder.symlink_to(elsewhere, target_is_directory=True)
    out = tmp_path / "adopted"
    run_import(homes, out)  # exits 0 and reports nothing
    assert "b3BlcmF0b3I6czNjcjN0" not in config_map_text(out)


# --- 3. a home's file has no byte budget ------------------------------------------------------


def test_a_huge_home_file_is_refused_by_its_size(homes: Homes, tmp_path: Path) -> None:
    """A sparse file costs the pod nothing; read whole, it costs the importer its size in
    memory. The one in this test is only just over the manifest budget."""
    target = homes.apim / OPEN_BANKING
    target.unlink()
    with open(target, "wb") as sink:
        sink.truncate(budgets.MANIFEST_BYTES + 1)
    status, err = run_import(homes, tmp_path / "adopted")
    assert status == 1
    assert f"apim:{OPEN_BANKING}" in err and "larger than" in err, err


def test_a_home_truststore_is_held_to_the_truststore_budget(homes: Homes, tmp_path: Path) -> None:
    """budgets.CERTIFICATES_PER_TRUSTSTORE bounds every truststore obreg builds, but the
    import reads the pod's with render's _read_jks, which counts nothing: a JKS of a
    million entries (one certificate under a million aliases, 40 bytes each past the
    first) is parsed, each entry decoded as X.509, before anything is refused."""
    store = homes.km / TRUSTSTORE
    keystore = jks.KeyStore.load(str(store), homes.password)
    der = keystore.certs["tpproot"].cert
    extra = [
        jks.TrustedCertEntry.new(f"copy{n:05d}", der)
        for n in range(budgets.CERTIFICATES_PER_TRUSTSTORE + 1)
    ]
    jks.KeyStore.new("jks", [*keystore.certs.values(), *extra]).save(str(store), homes.password)
    status, err = run_import(homes, tmp_path / "adopted")
    assert status == 1
    assert f"km:{TRUSTSTORE}" in err and str(budgets.CERTIFICATES_PER_TRUSTSTORE) in err, err


# --- 4. a home's odd file is an internal error --------------------------------------------------


@pytest.mark.parametrize("kind", ["folder", "fifo", "dangling link"])
def test_an_odd_provider_file_is_refused_by_name(homes: Homes, tmp_path: Path, kind: str) -> None:
    odd = homes.km / SP_DIR / "odd.xml"
    if kind == "folder":
        odd.mkdir()
    elif kind == "fifo":
        os.mkfifo(odd)
    else:
        odd.symlink_to(tmp_path / "nowhere.xml")
    status, err = run_import(homes, tmp_path / "adopted")
    assert status == 1
    assert f"km:{SP_DIR}/odd.xml" in err, err


def test_an_odd_idp_file_is_refused_by_name(homes: Homes, tmp_path: Path) -> None:
    (homes.km / IDP).unlink()
    (homes.km / IDP).mkdir()
    status, err = run_import(homes, tmp_path / "adopted")
    assert status == 1
    assert f"km:{IDP}" in err, err


# --- 5. what was verified is not what is written ----------------------------------------------


@pytest.mark.parametrize(
    ("path", "old", "new"),
    [
        (LOCALES[0], '"Applications": "Applications"', '"Applications": "Appli\x85cations"'),
        (API_MANAGER, "<DataSourceName>", "<!-- a\x85note -->\n    <DataSourceName>"),
    ],
    ids=["locale string", "api-manager.xml comment"],
)
def test_the_written_base_file_is_the_homes(
    homes: Homes, tmp_path: Path, path: str, old: str, new: str
) -> None:
    """U+0085 (NEL) is a character in JSON strings and XML text, and a line break to YAML:
    the import compares its in-memory objects with the home, then writes YAML whose
    reader gives another file (a locale string with a raw newline: no longer JSON)."""
    _edit(homes.apim, path, old, new)
    out = tmp_path / "adopted"
    status, err = run_import(homes, out)
    assert status == 0, err
    # The base files are in a Secret (rule 1: they may hold credentials).
    (base_files,) = [
        d for d in written(out)["secrets.yaml"] if d["metadata"]["name"] == "wso2-base-files"
    ]  # type: ignore[index]
    key = Path(path).name
    assert base_files["stringData"][key] == (homes.apim / path).read_text()  # type: ignore[index]


# --- 6. secrets in a refusal ---------------------------------------------------------------------


def test_a_credential_in_an_endpoint_url_is_never_printed(homes: Homes, tmp_path: Path) -> None:
    """Basic authentication written into the token endpoint, as some directories are
    configured: obreg refuses URLs with user information; the refusal must not quote it."""
    _edit(
        homes.km,
        IDP,
        "https://directory.example/token",
        "https://bank:Directory-Pw-91@directory.example/token",
    )
    status, err = run_import(homes, tmp_path / "adopted")
    assert status == 1
    assert "Directory-Pw-91" not in err, err


def test_a_password_file_that_is_not_utf8_is_refused(homes: Homes, tmp_path: Path) -> None:
    secret = tmp_path / "storepass"
    secret.write_bytes(b"wso2carbon\xff")
    status, err = run_import(homes, tmp_path / "adopted", "--truststore-password-file", str(secret))
    assert status == 1
    assert "--truststore-password-file" in err, err


# --- 7. an alias dropped without a report ---------------------------------------------------


def test_a_ca_under_two_aliases_is_reported(homes: Homes, tmp_path: Path) -> None:
    """The runbook's CA imported twice (keytool asks, -noprompt answers yes): the
    product's truststore holds both aliases; obreg's anchors store a certificate once."""
    store = homes.km / TRUSTSTORE
    pem = keytool(
        "-exportcert",
        "-rfc",
        "-alias",
        "tpproot",
        "-keystore",
        str(store),
        "-storepass",
        homes.password,
    )
    (tmp_path / "again.pem").write_text(pem)
    keytool(
        "-importcert",
        "-noprompt",
        "-alias",
        "tpproot-again",
        "-file",
        str(tmp_path / "again.pem"),
        "-keystore",
        str(store),
        "-storepass",
        homes.password,
    )
    assert "tpproot-again" in keytool(
        "-list", "-keystore", str(store), "-storepass", homes.password
    )
    status, err = run_import(homes, tmp_path / "adopted")
    assert "tpproot-again" in err, (status, err)


# --- 8. whitespace that WSO2 keeps, stripped by the import ----------------------------------


def test_a_provider_named_like_the_products_own_but_not_is_reported(
    homes: Homes, tmp_path: Path
) -> None:
    """WSO2 keeps surrounding whitespace (docs/security.md rule 6): " default " is not
    the fallback ``default`` but a second service provider of the pod's making. The
    import strips it, takes it for the product's own and says nothing."""
    (homes.km / SP_DIR / "hidden.xml").write_text(
        (homes.km / SP_DIR / "apim_store_ob.xml")
        .read_text()
        .replace("<ApplicationName>apim_store_ob<", "<ApplicationName> default <")
    )
    status, err = run_import(homes, tmp_path / "adopted")
    assert status == 1
    assert f"km:{SP_DIR}/hidden.xml" in err, err


def test_a_value_with_whitespace_wso2_keeps_is_reported(homes: Homes, tmp_path: Path) -> None:
    """The IdP's client id as the pod holds it, with a trailing space WSO2 sends: the
    import strips it, render writes it stripped, and the comparison strips both."""
    _edit(
        homes.km,
        IDP,
        "<Value>bank-directory-client</Value>",
        "<Value>bank-directory-client </Value>",
    )
    status, err = run_import(homes, tmp_path / "adopted")
    assert status == 1
    assert "Property[Name=ClientId]" in err, err


# --- 9. a report line that forges another --------------------------------------------------


def test_a_report_line_is_one_line(homes: Homes, tmp_path: Path) -> None:
    """Element paths quote the pod's names (Property[Name=...]); printable() escapes
    C0/C1 controls but not U+2028/U+2029, which str.splitlines, JavaScript log viewers
    and many CI consoles break lines at: the pod can print a line of its own."""
    forged = "\u2028obreg import: wrote 4 files under adopted/\u2029"
    (homes.km / IDP).write_text(
        idp_file(f"<Property><Name>X{forged}</Name><Value>true</Value></Property>\n")
    )
    status, err = run_import(homes, tmp_path / "adopted")
    assert status == 1
    assert err.splitlines() == err.rstrip("\n").split("\n"), err


# --- 10. manifests the API server refuses ---------------------------------------------------


def test_every_written_object_is_one_the_api_server_takes(homes: Homes, tmp_path: Path) -> None:
    """Each workload's rendered objects are checked against the API server's 1 MiB, but
    the import's own ConfigMap of base files holds both products' files: 600 KiB of
    comment in each of identity.xml (KM) and api-manager.xml (APIM) renders fine for
    each workload and makes a ConfigMap that `kubectl apply` refuses."""
    pad = "<!-- " + "x" * (600 * 1024) + " -->\n"
    _edit(homes.km, IDENTITY, "<OAuth>", pad + "<OAuth>")
    _edit(homes.apim, API_MANAGER, "<DataSourceName>", pad + "<DataSourceName>")
    out = tmp_path / "adopted"
    status, err = run_import(homes, out)
    too_big = [
        f"{name}: {doc['kind']} {doc['metadata']['name']}"  # type: ignore[index]
        for name, docs in written(out).items()
        for doc in docs
        if len(yaml.safe_dump(doc).encode()) > 1024 * 1024
    ]
    assert status == 1 or not too_big, too_big
