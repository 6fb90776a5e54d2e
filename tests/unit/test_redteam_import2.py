"""Second red-team pass over ``obreg import``. Rules these check, each one rule for
every case (the first pass is test_redteam_import.py):

1. a home file with more than one link is refused (a hard link is a regular file to every
   no-follow check, and may be any file of the importer's);
2. -o is made 0700 (the files a bank reviews and commits are its owner's alone);
3. each home path is read once: every consumer (values, base files, check) gets the
   bytes of that one read;
4. a home and -o are each opened once, never through a link at their last step, and
   everything is read or written relative to that descriptor;
5. the operator's own files are held to a file's budget, and the credentials Secret's
   metadata to what the API server takes, before anything is read from a home;
6. a folder the import lists, and the bytes it reads from a home, have budgets;
7. whatever is refused, -o holds nothing of the import's.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from obreg import budgets
from obreg.errors import InvalidInput, Where
from obreg.importing import files, key_manager
from obreg.importing import homes as module
from tests.unit import test_import_handmade as handmade
from tests.unit.test_import_handmade import (
    IDP,
    LOCALES,
    SITE,
    STOREPASS,
    TRUSTSTORE,
    Homes,
    run_import,
)

pristine = handmade.pristine

SECRET = "operators-private-token-9c1e"


@pytest.fixture
def homes(pristine: dict[str, Homes], tmp_path: Path) -> Homes:
    return handmade.copy(pristine[STOREPASS], tmp_path)


def _all_text(out: Path) -> str:
    return "\n".join(f.read_text() for f in sorted(out.iterdir())) if out.is_dir() else ""


def _plant(path: Path) -> None:
    """Add a key holding SECRET to a JSON or JSON5 file."""
    path.write_text(path.read_text().replace("{", f'{{"planted": "{SECRET}",', 1))


# --- a hard link is a regular file: O_NOFOLLOW does not see it ------------------------------


def test_a_hard_link_out_of_the_home_is_not_read(homes: Homes, tmp_path: Path) -> None:
    """A file of the importer's (same file system) hard-linked into a home is a regular
    file to lstat and O_NOFOLLOW: its bytes would become a base file in secrets.yaml,
    committed and applied."""
    outside = tmp_path / "operators-home" / "token.json"
    outside.parent.mkdir()
    outside.write_text(json.dumps({"ID": "ID", "token": SECRET}))
    for path in LOCALES:
        (homes.apim / path).unlink()
        os.link(outside, homes.apim / path)
    out = tmp_path / "adopted"
    status, err = run_import(homes, out)
    assert SECRET not in _all_text(out), (status, err)
    assert status == 1 and "hard links" in err, err


# --- 4. a home or -o that is a link; a home swapped while it is read ------------------------


def test_a_home_that_is_a_link_is_refused(homes: Homes, tmp_path: Path) -> None:
    """A tar extracted next to the homes can plant a link where the operator expects a
    folder: the home would be read from wherever it points."""
    real = tmp_path / "somewhere-else"
    homes.apim.rename(real)
    homes.apim.symlink_to(real, target_is_directory=True)
    out = tmp_path / "adopted"
    status, err = run_import(homes, out)
    assert status == 1 and f"--apim-home: -: {homes.apim} is a link" in err, err
    assert not out.exists()


def test_a_refused_home_is_named_escaped(homes: Homes, tmp_path: Path) -> None:
    odd = tmp_path / "apim\x1b[2J"
    odd.symlink_to(homes.apim, target_is_directory=True)
    status, err = run_import(Homes(homes.km, odd, homes.stock, homes.password), tmp_path / "o")
    assert status == 1 and "apim\\u001b[2J is a link" in err and "\x1b" not in err, err


def test_a_home_swapped_while_it_is_read_is_not_followed(
    homes: Homes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the first file is read, the APIM home is moved away and a link to another
    folder put in its place, whose files hold a secret of someone else's: every later
    read is still from the folder first opened."""
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(homes.apim, elsewhere)
    for path in (SITE, *LOCALES):
        _plant(elsewhere / path)
    original = files.read_bounded

    def swapping(descriptor: int, where: Where) -> bytes:
        data = original(descriptor, where)
        if where.resource == f"apim:{TRUSTSTORE}":
            homes.apim.rename(tmp_path / "moved")
            homes.apim.symlink_to(elsewhere, target_is_directory=True)
        return data

    monkeypatch.setattr(files, "read_bounded", swapping)
    out = tmp_path / "adopted"
    status, err = run_import(homes, out)
    assert status == 0, err
    assert SECRET not in _all_text(out)


def test_an_output_folder_that_is_a_link_is_refused(homes: Homes, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "adopted"
    out.symlink_to(elsewhere, target_is_directory=True)
    status, err = run_import(homes, out)
    assert status == 1 and f"-o: -: {out} is a link" in err, err
    assert list(elsewhere.iterdir()) == []


def test_a_write_that_fails_leaves_nothing(
    homes: Homes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fills after the first manifest: what was written is removed."""
    real_open = os.open
    made: list[str] = []

    def filling(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT and kwargs.get("dir_fd") is not None:
            if made:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            made.append(str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", filling)
    out = tmp_path / "adopted"
    status, err = run_import(homes, out)
    assert made and status == 1 and "No space left on device" in err, err
    assert list(out.iterdir()) == []


# --- 3. each home path is read once -----------------------------------------------------------


def test_each_home_path_is_opened_once(
    homes: Homes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The truststores and base files are read for their values, then compared by the
    check: two reads could see two versions of a file written to meanwhile."""
    opened: dict[tuple[str, str], int] = {}
    original = module._Homes._open

    def counting(self: module._Homes, home: str, path: str, folder: bool) -> int | None:
        opened[(home, path)] = opened.get((home, path), 0) + 1
        return original(self, home, path, folder)

    monkeypatch.setattr(module._Homes, "_open", counting)
    status, err = run_import(homes, tmp_path / "adopted")
    assert status == 0, err
    assert (
        ("apim", SITE) in opened
        and ("km", TRUSTSTORE) in opened
        and {k: n for k, n in opened.items() if n > 1} == {}
    )


def test_a_file_changed_after_its_read_is_imported_as_first_read(
    homes: Homes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """site.json is rewritten on disk as soon as it has been read once: the base file
    written and the file the check compares are the bytes of that read."""
    first = (homes.apim / SITE).read_text()
    original = files.read_bounded

    def rewriting(descriptor: int, where: Where) -> bytes:
        data = original(descriptor, where)
        if where.resource == f"apim:{SITE}":
            _plant(homes.apim / SITE)
        return data

    monkeypatch.setattr(files, "read_bounded", rewriting)
    out = tmp_path / "adopted"
    status, err = run_import(homes, out)
    assert status == 0, err
    secrets = list(yaml.safe_load_all((out / "secrets.yaml").read_text()))
    base = next(s for s in secrets if s["metadata"]["name"] == module.BASE_FILES)
    assert base["stringData"]["site.json"] == first


# --- 6. budgets of a folder's entries and of a home's bytes ---------------------------------


def test_a_folder_of_more_entries_than_the_budget_is_refused(homes: Homes, tmp_path: Path) -> None:
    folder = (homes.km / IDP).parent
    budget = budgets.IMPORT_FOLDER_ENTRIES
    for number in range(budget - len(list(folder.iterdir()))):
        (folder / f"old-{number}.bak").write_text("")
    status, err = run_import(homes, tmp_path / "at-budget")
    assert status == 0, err  # exactly the budget is listed
    (folder / "one-more.bak").write_text("")
    out = tmp_path / "adopted"
    status, err = run_import(homes, out)
    assert status == 1 and f"holds more than {budget} entries" in err, err
    assert not out.exists()


def test_a_home_of_more_bytes_than_the_budget_is_refused(
    homes: Homes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each file is within its budget; together they are not (the budget made small
    here, as a home of 32 MiB of provider files would be to the real one)."""
    total = sum(len((homes.km / p).read_bytes()) for p in (TRUSTSTORE, IDP))
    monkeypatch.setattr(budgets, "IMPORT_HOME_BYTES", total - 1)
    out = tmp_path / "adopted"
    status, err = run_import(homes, out)
    assert status == 1 and f"more than {total - 1} bytes together" in err, err
    assert not out.exists()


# --- 5. the operator's own files ------------------------------------------------------------


def _credentials(tmp_path: Path, **metadata: object) -> Path:
    given = tmp_path / "km-admin.yaml"
    manifest = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "km-admin", **metadata},
        "stringData": {"username": "admin", "password": "pw"},
    }
    given.write_text(yaml.safe_dump(manifest))
    return given


@pytest.mark.parametrize(
    "flag",
    [
        "--stock-truststore",
        "--truststore-password-file",
        "--key-manager-credentials",
        "--key-manager-ca",
    ],
)
def test_an_own_file_over_the_budget_is_refused(homes: Homes, tmp_path: Path, flag: str) -> None:
    """A file of the operator's own is still held to a file's budget (a sparse file
    here: no disk is used)."""
    large = tmp_path / "large"
    with large.open("wb") as sink:
        sink.truncate(budgets.MANIFEST_BYTES + 1)
    given = {"--key-manager-credentials": str(_credentials(tmp_path)), flag: str(large)}
    extra = [flag, str(large)]
    if flag.startswith("--key-manager"):
        extra = ["--key-manager", "https://km.bank.example:9443"]
        for name, value in given.items():
            extra += [name, value]
    out = tmp_path / "adopted"
    status, err = run_import(homes, out, *extra)
    assert status == 1 and f"{flag}: -: larger than {budgets.MANIFEST_BYTES} bytes" in err, err
    assert not out.exists()


def test_an_own_file_that_is_not_a_regular_file_is_refused(homes: Homes, tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    status, err = run_import(homes, tmp_path / "adopted", "--stock-truststore", str(fifo))
    assert status == 1 and "--stock-truststore: -: is not a regular file" in err, err


def test_credentials_metadata_are_refused_before_anything_is_read(
    homes: Homes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A label the API server would refuse: refused when the command line is read, so no
    home is opened and -o not made."""
    monkeypatch.setattr(files, "open_folder", None)  # any call would fail loudly
    given = _credentials(tmp_path, labels={"team": 7})
    out = tmp_path / "adopted"
    status, err = run_import(
        homes,
        out,
        "--key-manager",
        "https://km.bank.example:9443",
        "--key-manager-credentials",
        str(given),
    )
    assert status == 1 and "--key-manager-credentials: -: metadata.labels is not" in err, err
    assert not out.exists()


# --- the output folder is created world-writable under a permissive umask ------------------


def test_the_output_folder_is_not_writable_by_others(homes: Homes, tmp_path: Path) -> None:
    """Under umask 000 a folder made with the default mode would let any local user swap
    trust-anchor.yaml (a CA of theirs) or service-provider.yaml before the bank commits."""
    out = tmp_path / "adopted"
    old = os.umask(0)
    try:
        status, err = run_import(homes, out)
    finally:
        os.umask(old)
    assert status == 0, err
    assert stat.S_IMODE((out / "secrets.yaml").stat().st_mode) == 0o600  # held
    assert stat.S_IMODE(out.stat().st_mode) & 0o022 == 0, oct(out.stat().st_mode)


# --- the credentials manifest's metadata is copied unchecked ---------------------------------


# --- the credentials manifest's metadata is copied unchecked ---------------------------------


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ({"metadata": {"annotations": {"obreg.dev/key-manager-hosts": ["km"]}}}, "annotations"),
        ({"metadata": {"annotations": {"note": {"nested": 1}}}}, "annotations"),
        ({"metadata": {"annotations": "a string"}}, "annotations"),
        ({"metadata": {"annotations": {"not a key": "x"}}}, "annotations"),
        ({"metadata": {"labels": {"team": 7}}}, "labels is not"),
        ({"metadata": {"labels": {"team": "not a value"}}}, "labels holds a value"),
        ({"metadata": {"labels": {"a/b/c": "x"}}}, "labels is not"),
        ({"metadata": {"name": "KM_Admin"}}, "metadata.name is not a DNS-1123"),
        ({"metadata": ["km-admin"]}, "metadata is not a mapping"),
        ({"type": {"not": "a type"}}, "type is not a Secret type"),
        ({"type": "two words"}, "type is not a Secret type"),
    ],
)
def test_a_credentials_manifest_the_api_server_would_refuse_is_refused(
    manifest: dict[str, Any], message: str
) -> None:
    """Labels, annotations, name and type were copied as given: a value that is not a
    string was written into secrets.yaml and refused only by the API server."""
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "km-admin"},
        "stringData": {"username": "admin", "password": "pw-by-hand"},
    }
    metadata = manifest.pop("metadata", {})
    obj.update(manifest)
    obj["metadata"] = {**obj["metadata"], **metadata} if isinstance(metadata, dict) else metadata
    with pytest.raises(InvalidInput) as refused:
        key_manager.credentials_secret(yaml.safe_dump(obj).encode(), "bank")
    text = str(refused.value.problems[0])
    assert text.startswith("--key-manager-credentials: -: ") and message in text, text
    assert "pw-by-hand" not in text


def test_a_credentials_manifest_of_kubernetes_keys_is_kept() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "bank.example/km-admin",
        "metadata": {
            "name": "km-admin",
            "labels": {"app.kubernetes.io/part-of": "wso2", "empty": ""},
            "annotations": {"obreg.dev/key-manager-hosts": "km:9443", "note": "any text: ok"},
        },
        "stringData": {"username": "admin", "password": "pw"},
    }
    secret = key_manager.credentials_secret(yaml.safe_dump(obj).encode(), "bank")
    assert secret["type"] == "bank.example/km-admin"
    assert secret["metadata"]["annotations"] == obj["metadata"]["annotations"]  # type: ignore[index]
