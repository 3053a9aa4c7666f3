"""Fixtures shared by the tests.

Real data: `data_dir` is the folder of the book's real data (see `resnet_lib.data`): $RESNET_DATA if set,
else `../shared/data` beside the repository, as CI lays it out. Tests that need it are skipped when it is
absent.

Decoded CIFAR-10 is cached where `resnet_lib.data.cache_dir()` says ($RESNET_CACHE, else the user's
~/.cache/resnet-book), not in a temporary folder: decoding the 60,000 JPEG files takes seconds, and this way
it happens once for every test run and notebook on the machine. Tests that must start from an empty cache
point RESNET_CACHE at a temporary folder themselves.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The book's real data: $RESNET_DATA, else ../shared/data beside the repository."""
    path = Path(os.environ.get("RESNET_DATA") or REPO.parent / "shared" / "data")
    if not path.is_dir():
        pytest.skip(f"no real data at {path}: set RESNET_DATA, or put the shared data at ../shared/data")
    return path
