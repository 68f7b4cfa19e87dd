from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from procs import Proc, fleet_models, start_fleet, start_laneway


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    """One fleet for the whole run, for tests that set no faults on it."""
    with start_fleet(tmp_path_factory.mktemp("fleet")) as proc:
        yield proc


@pytest.fixture(scope="module")
def own_fleet(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[Proc]:
    """A fleet of the module's own: its faults and request log reach no other module."""
    name = request.module.__name__.rpartition(".")[2]
    with start_fleet(tmp_path_factory.mktemp(f"{name}-fleet")) as proc:
        yield proc


@pytest.fixture
def fleet_ctl(own_fleet: Proc) -> Iterator[httpx.Client]:
    """`own_fleet`'s control API; the fleet is reset (no faults, empty log) before and after."""
    with httpx.Client(base_url=own_fleet.url) as c:
        c.post("/fleet/reset").raise_for_status()
        yield c
        c.post("/fleet/reset").raise_for_status()


@pytest.fixture(scope="session")
def laneway(fleet: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    """One laneway on the fleet, shared by tests that only read its answers."""
    tmp: Path = tmp_path_factory.mktemp("laneway")
    with start_laneway(tmp, {"models": fleet_models(fleet.url)}) as proc:
        yield proc
