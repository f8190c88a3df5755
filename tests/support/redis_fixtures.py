"""Session fixtures for the Redis topologies (started once, shared by tests/store and tests/faults)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.redis_topology import Cluster, SentinelSetup, start_cluster, start_sentinel


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[Cluster]:
    cluster = start_cluster()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[SentinelSetup]:
    setup = start_sentinel()
    yield setup
    setup.stop()
