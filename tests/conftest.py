"""Fixtures shared by the tests.

Real data: `data_dir` is the folder of the book's data (see `resnet_lib.data`): $RESNET_DATA if set, else
`../shared/data` beside the repository, as CI lays it out; where that folder does not exist (or RESNET_DATA is
set to nothing), the library's sample (`data.SAMPLE_ROOT`): the same data sets with a few images each, shipped
in the repository. `data_copy` says which ("full" or "sample"), for the tests whose exact numbers depend on
it. The run's summary names the folder.

Decoded CIFAR-10 is cached where `resnet_lib.data.cache_dir()` says ($RESNET_CACHE, else the user's
~/.cache/resnet-book), not in a temporary folder: decoding the 60,000 JPEG files takes seconds, and this way
it happens once for every test run and notebook on the machine. Tests that must start from an empty cache
point RESNET_CACHE at a temporary folder themselves.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from resnet_lib.data import SAMPLE_ROOT

REPO = Path(__file__).resolve().parent.parent


def pytest_terminal_summary(terminalreporter):
    folder = _data_dir()
    terminalreporter.write_line("data: the library's sample, resnet_lib/sample_data (no data folder found)"
                                if folder == SAMPLE_ROOT else f"data: {folder}")


def _data_dir() -> Path:
    if "RESNET_DATA" in os.environ:  # set to nothing (`make test RESNET_DATA=`): no data folder
        path = Path(os.environ["RESNET_DATA"]) if os.environ["RESNET_DATA"] else None
    else:
        path = REPO.parent / "shared" / "data"
    return path if path is not None and path.is_dir() else SAMPLE_ROOT


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The book's data: $RESNET_DATA, else ../shared/data beside the repository; else the library's sample."""
    return _data_dir()


@pytest.fixture(scope="session")
def data_copy(data_dir) -> str:
    """"sample" when the tests run on the library's sample, else "full"."""
    return "sample" if data_dir == SAMPLE_ROOT else "full"
