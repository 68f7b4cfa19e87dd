from collections.abc import Iterator
from pathlib import Path

import pytest
from procs import Proc, fleet_models, start_fleet, start_laneway


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_fleet(tmp_path_factory.mktemp("fleet"))
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def laneway(fleet: Proc, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    """One laneway on the fleet, shared by tests that only read its answers."""
    tmp: Path = tmp_path_factory.mktemp("laneway")
    proc = start_laneway(tmp, {"models": fleet_models(fleet.url)})
    yield proc
    proc.stop()
