"""The README's kind block agrees with itself and with the files it names, without a kind
cluster: only ``make e2e-kind`` (root, its own Docker engine) runs it, so an edit that
breaks it would otherwise show there alone. It makes the cluster kind-config.yaml
describes, loads into that cluster the image it builds, and installs the chart with
that image, from a clone."""

from __future__ import annotations

import shlex
from pathlib import Path

import yaml

from testbed.kind import readme

ROOT = Path(__file__).resolve().parents[2]


def _argv(prefix: str) -> list[str]:
    """The one command of the block that starts with ``prefix``, as the shell splits it."""
    found = [command for command in readme.commands() if command.startswith(prefix)]
    assert len(found) == 1, (prefix, readme.commands())
    return shlex.split(found[0].replace("\\\n", " "))


def _option(argv: list[str], name: str) -> list[str]:
    return [argv[i + 1] for i, word in enumerate(argv[:-1]) if word == name]


def test_the_block_starts_with_the_cluster_the_tier_makes_from_it() -> None:
    assert readme.commands()[0].startswith("kind create cluster ")


def test_the_image_built_is_the_one_loaded_and_installed() -> None:
    config = yaml.safe_load((ROOT / "kind-config.yaml").read_text())
    (built,) = _option(_argv("docker build "), "-t")
    load = _argv("kind load docker-image ")
    assert load[3] == built
    assert _option(load, "--name") == [config["name"]]
    assert _option(_argv("kind create cluster "), "--config") == ["kind-config.yaml"]

    install = _argv("helm install ")
    values = dict(setting.split("=", 1) for setting in _option(install, "--set"))
    assert f"{values['image.repository']}:{values['image.tag']}" == built
    assert (ROOT / install[3] / "Chart.yaml").is_file()
    assert "--wait" in install


def test_a_command_continues_on_the_lines_its_backslashes_join() -> None:
    (install,) = [c for c in readme.commands() if c.startswith("helm install ")]
    assert install.count("\n") == install.count("\\\n") >= 1
    assert not install.endswith("\\")
