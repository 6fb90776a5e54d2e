"""kopf run only while obreg's CRDs are served, and again after a 404 stopped it
(obreg/kube/serving.py): the rules over scripted discovery answers and kopf runs."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Iterator

import pytest

from obreg.kube import serving
from obreg.kube.serving import RESOURCES, lost_a_crd, missing, restart_pause


class Answer(Exception):
    """An API error as kopf raises them: the HTTP status as ``status``."""

    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


class Discovery:
    """Answers in order, the last one for good; counts the questions."""

    def __init__(self, *answers: frozenset[str] | None) -> None:
        self.answers = list(answers)
        self.asked = 0

    async def served(self, group_version_path: str) -> frozenset[str] | None:
        assert group_version_path == "/apis/obreg.dev/v1alpha1"
        self.asked += 1
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class Kopf:
    """kopf runs that end as scripted: an exception raised, or None for a clean stop."""

    def __init__(self, *endings: BaseException | None) -> None:
        self.endings = list(endings)
        self.runs = 0

    async def __call__(self) -> None:
        self.runs += 1
        ending = self.endings.pop(0)
        if ending is not None:
            raise ending


@pytest.fixture
def fast(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(serving, "POLL_SECONDS", (0.001,))
    monkeypatch.setattr(serving, "RESTART_PAUSES", (0.001,))
    yield


ALL = frozenset(RESOURCES | {"obtrustanchors/status", "observiceproviders/status"})


@pytest.mark.parametrize(
    ("served", "lacking"),
    [
        (None, RESOURCES),
        (frozenset(), RESOURCES),
        (ALL, frozenset()),
        (ALL - {"obidentityproviders"}, frozenset({"obidentityproviders"})),
        (frozenset({"obtrustanchors/status"}), RESOURCES),
    ],
)
def test_what_a_discovery_answer_lacks(
    served: frozenset[str] | None, lacking: frozenset[str]
) -> None:
    assert missing(served) == lacking


@pytest.mark.parametrize(
    ("error", "lost"),
    [(Answer(404), True), (Answer(403), False), (Answer(410), False), (RuntimeError(), False)],
)
def test_only_a_404_means_a_kind_is_no_longer_served(error: Exception, lost: bool) -> None:
    assert lost_a_crd(error) is lost


def test_the_pause_between_short_runs_grows_to_a_ceiling() -> None:
    pauses = [restart_pause(n) for n in range(8)]
    assert pauses == sorted(pauses)
    assert pauses[0] < pauses[-1] == pauses[-2]


@pytest.mark.usefixtures("fast")
def test_kopf_starts_only_once_every_crd_is_served(caplog: pytest.LogCaptureFixture) -> None:
    discovery = Discovery(None, None, frozenset(), frozenset(), ALL - {"observiceproviders"}, ALL)
    kopf = Kopf(None)
    with caplog.at_level(logging.INFO, logger=serving.__name__):
        asyncio.run(serving.serve(discovery, kopf))
    assert (discovery.asked, kopf.runs) == (6, 1)
    # Told when what is missing changes, not on every poll; an unanswered discovery is
    # not taken for absent CRDs. These lines are what an operator greps for.
    hint = "(the chart installs them; or kubectl apply -f crds/)"
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", f"waiting for the API server to answer discovery of {serving.DISCOVERY}"),
        (
            "WARNING",
            "waiting for obreg's CRDs: obidentityproviders, observiceproviders, "
            f"obtrustanchors not served under {serving.DISCOVERY} {hint}",
        ),
        (
            "WARNING",
            f"waiting for obreg's CRDs: observiceproviders not served under "
            f"{serving.DISCOVERY} {hint}",
        ),
        ("INFO", "obreg's CRDs are served: serving their resources"),
    ]


@pytest.mark.usefixtures("fast")
def test_a_404_stops_kopf_which_starts_again_once_the_crds_are_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    discovery = Discovery(ALL, frozenset(), frozenset(), ALL)
    gone = Answer(404)
    kopf = Kopf(gone, None)
    with caplog.at_level(logging.INFO, logger=serving.__name__):
        asyncio.run(serving.serve(discovery, kopf))
    assert (discovery.asked, kopf.runs) == (4, 2)
    said = [r.getMessage() for r in caplog.records]
    assert said[0] == f"kopf stopped: a watch answered HTTP 404 ({gone}); starting again"
    assert said[-1] == "obreg's CRDs are served: serving their resources"


@pytest.mark.usefixtures("fast")
@pytest.mark.parametrize("error", [Answer(403), Answer(500), RuntimeError("a bug")])
def test_any_other_failure_of_kopf_ends_the_process(error: Exception) -> None:
    kopf = Kopf(error, None)
    with pytest.raises(type(error)):
        asyncio.run(serving.serve(Discovery(ALL), kopf))
    assert kopf.runs == 1


@pytest.mark.usefixtures("fast")
def test_sigterm_ends_the_wait_for_the_crds_without_starting_kopf(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> int:
        discovery = Discovery(frozenset())
        kopf = Kopf(None)
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(serving.serve(discovery, kopf), 10)
        return kopf.runs

    with caplog.at_level(logging.INFO, logger=serving.__name__):
        assert asyncio.run(scenario()) == 0
    assert caplog.records[-1].getMessage() == (
        "stopping: a signal came while obreg waited for its CRDs"
    )


def record_pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The waits serve() and until_served() ask for, in order, each taken as elapsed
    at once (no signal)."""
    asked: list[float] = []

    async def stopped_within(_: asyncio.Event, seconds: float) -> bool:
        asked.append(seconds)
        return False

    monkeypatch.setattr(serving, "_stopped_within", stopped_within)
    return asked


def test_kopf_starts_at_once_and_each_short_run_after_a_404_waits_longer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No pause before the first run; after runs that each stopped on a 404 soon after
    starting, pauses of the table in order (a 404 that is not about obreg's CRDs must
    not spin kopf's start-up)."""
    asked = record_pauses(monkeypatch)
    kopf = Kopf(Answer(404), Answer(404), Answer(404), None)
    asyncio.run(serving.serve(Discovery(ALL), kopf))
    assert kopf.runs == 4
    assert asked == list(serving.RESTART_PAUSES[:3])


def test_a_run_that_lasted_starts_the_pauses_over(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = record_pauses(monkeypatch)
    monkeypatch.setattr(serving, "STEADY_SECONDS", 0.0)  # every run counts as long
    kopf = Kopf(Answer(404), Answer(404), Answer(404), None)
    asyncio.run(serving.serve(Discovery(ALL), kopf))
    assert asked == [serving.RESTART_PAUSES[0]] * 3


def test_the_wait_for_the_crds_polls_ever_less_often_up_to_a_ceiling(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = record_pauses(monkeypatch)
    waits = len(serving.POLL_SECONDS) + 2
    asyncio.run(serving.serve(Discovery(*[frozenset()] * waits, ALL), Kopf(None)))
    assert asked == [*serving.POLL_SECONDS, serving.POLL_SECONDS[-1], serving.POLL_SECONDS[-1]]
