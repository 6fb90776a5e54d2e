"""The reader of each WSO2 framework version, built once per machine (see wso2.py)."""

from __future__ import annotations

import pytest

from tests.fidelity import wso2


@pytest.fixture(scope="session", params=wso2.VERSIONS)
def wso2_reader(request: pytest.FixtureRequest) -> str:
    """The class path of WSO2's parsers at one framework version."""
    return wso2.build(request.param)
