"""REDIS_URL forms: one node, Sentinel (master name, db, credentials) and Cluster; bad ones are refused with a
sentence that says what is expected."""

from __future__ import annotations

import pytest

from bot.store import BadRedisUrl, ClientOptions
from bot.store.connect import build_client, describe


async def test_a_sentinel_url_names_the_sentinels_the_master_and_the_database() -> None:
    topo = build_client("redis+sentinel://:s3cret@10.0.0.1:26379,[::1]:26380,sentinel-c/mymaster/2", ClientOptions())
    assert topo.kind == "sentinel"
    (sentinel,) = topo.closers
    hosts = [
        (c.connection_pool.connection_kwargs["host"], c.connection_pool.connection_kwargs["port"])
        for c in sentinel.sentinels
    ]
    assert hosts == [("10.0.0.1", 26379), ("::1", 26380), ("sentinel-c", 26379)]
    kwargs = topo.client.connection_pool.connection_kwargs
    assert topo.client.connection_pool.service_name == "mymaster"
    assert kwargs["db"] == 2 and kwargs["password"] == "s3cret"
    assert kwargs["socket_timeout"] == 5.0 and kwargs["socket_connect_timeout"] == 3.0
    await topo.client.aclose()


async def test_a_single_node_url_gets_a_blocking_pool_sized_from_the_settings() -> None:
    topo = build_client("redis://127.0.0.1:6379/0", ClientOptions(max_connections=7, pool_timeout=9))
    pool = topo.client.connection_pool
    assert topo.kind == "single" and type(pool).__name__ == "BlockingConnectionPool"
    assert pool.max_connections == 7 and pool.timeout == 9
    await topo.client.aclose()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis+sentinel://127.0.0.1:26379", "master name"),
        ("redis+sentinel://127.0.0.1:26379/m/zero", "database must be a number"),
        ("redis+cluster://127.0.0.1:notaport", "bad port"),
        ("http://127.0.0.1:6379", "not supported"),
    ],
)
def test_a_url_that_cannot_work_is_refused_with_what_is_expected(url: str, says: str) -> None:
    with pytest.raises(BadRedisUrl, match=says):
        build_client(url, ClientOptions())


def test_logs_never_show_the_password() -> None:
    assert describe("redis+sentinel://user:hunter2@h1:26379,h2:26379/m/0") == "redis+sentinel://h1:26379,h2:26379/m/0"
