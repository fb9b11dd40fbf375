"""Fixtures: the fake upstream in a thread and the gateway as a real subprocess (see harness)."""

from __future__ import annotations

from collections.abc import Iterator

import fake_upstream
import pytest

from tests.gateway.harness import Gateway, ThreadServer


@pytest.fixture(scope="module")
def upstream() -> Iterator[ThreadServer]:
    fake_upstream.reset()
    with ThreadServer(fake_upstream.app) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(upstream: ThreadServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = Gateway(root=tmp_path_factory.mktemp("gateway"), upstream_url=upstream.url).start()
    yield gw
    gw.stop()
