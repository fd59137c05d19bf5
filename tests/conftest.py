from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.indexserver import LocalIndex


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own cache directory and never sees the developer's pip config."""
    monkeypatch.setenv("PIPWARDEN_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    monkeypatch.delenv("PIP_EXTRA_INDEX_URL", raising=False)


@pytest.fixture
def local_index() -> Iterator[LocalIndex]:
    """A started local package index on 127.0.0.1 (tests/indexserver.py), stopped at teardown."""
    with LocalIndex() as index:
        yield index
