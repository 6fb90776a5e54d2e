"""Second red-team pass over ``obreg import``: a home file with more than one link is
refused (a hard link is a regular file to every no-follow check, and may be any file of
the importer's), and -o is made 0700 (the files a bank reviews and commits are its
owner's alone). The first pass is test_redteam_import.py."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from tests.unit import test_import_handmade as handmade
from tests.unit.test_import_handmade import LOCALES, STOREPASS, Homes, run_import

pristine = handmade.pristine

SECRET = "operators-private-token-9c1e"


@pytest.fixture
def homes(pristine: dict[str, Homes], tmp_path: Path) -> Homes:
    return handmade.copy(pristine[STOREPASS], tmp_path)


def _all_text(out: Path) -> str:
    return "\n".join(f.read_text() for f in sorted(out.iterdir())) if out.is_dir() else ""


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


# --- the home's own path is followed when it is a link --------------------------------------
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
