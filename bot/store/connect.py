"""Builds the redis-py client a `REDIS_URL` names: one node, a Sentinel-managed master, or a Cluster.

- `redis://h:p/db`, `rediss://…` (TLS), `unix://…`: one node, through a blocking pool (waits for a free
  connection up to `pool_timeout` instead of raising MaxConnectionsError).
- `redis+sentinel://[user:pass@]h:p,h:p/mastername[/db]` (`rediss+sentinel://` for TLS to the data nodes): the
  master as the sentinels see it now; after a failover the pool asks again, and a ReadOnlyError from a demoted
  master drops that connection (redis-py's SentinelManagedConnection), so the next call reaches the new one.
- `redis+cluster://[user:pass@]h:p,h:p` (`rediss+cluster://`): Redis Cluster from any of those seed nodes.

redis-py's own retries are switched off: they would resend non-idempotent commands after a lost response.
`bot.store.store.Store` retries only what is safe to repeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import NoBackoff

SINGLE_SCHEMES = frozenset({"redis", "rediss", "unix"})
SENTINEL_SCHEMES = frozenset({"redis+sentinel", "rediss+sentinel"})
CLUSTER_SCHEMES = frozenset({"redis+cluster", "rediss+cluster"})


class BadRedisUrl(ValueError):
    """REDIS_URL cannot be understood; the message says what is expected."""


@dataclass(frozen=True, slots=True)
class ClientOptions:
    max_connections: int = 50
    pool_timeout: float = 5.0
    socket_timeout: float = 5.0
    connect_timeout: float = 3.0


@dataclass(frozen=True, slots=True)
class Topology:
    kind: str  # single | sentinel | cluster
    client: Any  # aioredis.Redis or RedisCluster: both answer the commands the store uses
    closers: tuple[Any, ...] = ()  # extra objects to close (the Sentinel manager's connections)


def _no_retry() -> Retry:
    return Retry(NoBackoff(), 0)


def _hosts(netloc: str, scheme: str) -> tuple[str | None, str | None, list[tuple[str, int]]]:
    user = password = None
    if "@" in netloc:
        cred, netloc = netloc.rsplit("@", 1)
        user_part, _, pass_part = cred.partition(":")
        user, password = unquote(user_part) or None, unquote(pass_part) or None
    hosts: list[tuple[str, int]] = []
    default = 26379 if "sentinel" in scheme else 6379
    for part in netloc.split(","):
        part = part.strip()
        if not part:
            continue
        if part.startswith("["):  # [ipv6]:port
            host, _, rest = part[1:].partition("]")
            port_text = rest.lstrip(":")
        else:
            host, _, port_text = part.rpartition(":") if ":" in part else (part, "", "")
        try:
            port = int(port_text) if port_text else default
        except ValueError as exc:
            raise BadRedisUrl(f"REDIS_URL: bad port in {part!r}") from exc
        hosts.append((host, port))
    if not hosts:
        raise BadRedisUrl(f"REDIS_URL: no host in {scheme}:// URL")
    return user, password, hosts


def describe(url: str) -> str:
    """The URL without its password, for logs and error lines."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return f"{parts.scheme}://{netloc}{parts.path}"


def build_client(url: str, opts: ClientOptions) -> Topology:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    common: dict[str, Any] = {
        "decode_responses": True,
        "socket_timeout": opts.socket_timeout,
        "socket_connect_timeout": opts.connect_timeout,
        "retry": _no_retry(),
        "health_check_interval": 15,  # a connection idle through a failover is checked before use
    }
    if scheme in SINGLE_SCHEMES:
        pool = aioredis.BlockingConnectionPool.from_url(
            url, max_connections=opts.max_connections, timeout=opts.pool_timeout, **common
        )
        return Topology("single", aioredis.Redis.from_pool(pool))
    if scheme in SENTINEL_SCHEMES:
        user, password, hosts = _hosts(parts.netloc, scheme)
        segments = [unquote(s) for s in parts.path.split("/") if s]
        if not segments:
            raise BadRedisUrl("REDIS_URL: redis+sentinel://host:port,host:port/<master name>[/<db>]")
        service = segments[0]
        try:
            db = int(segments[1]) if len(segments) > 1 else 0
        except ValueError as exc:
            raise BadRedisUrl(f"REDIS_URL: database must be a number, got {segments[1]!r}") from exc
        query = parse_qs(parts.query)
        sentinel_password = next(iter(query.get("sentinel_password") or []), None)
        sentinel = Sentinel(
            hosts,
            sentinel_kwargs={
                "socket_timeout": opts.socket_timeout,
                "socket_connect_timeout": opts.connect_timeout,
                "password": sentinel_password,
                "retry": _no_retry(),
            },
            **common,
        )
        client = sentinel.master_for(
            service,
            db=db,
            username=user,
            password=password,
            ssl=scheme.startswith("rediss"),
            max_connections=opts.max_connections,
        )
        return Topology("sentinel", client, (sentinel,))
    if scheme in CLUSTER_SCHEMES:
        user, password, hosts = _hosts(parts.netloc, scheme)
        common.pop("health_check_interval")
        client = RedisCluster(
            startup_nodes=[ClusterNode(h, p) for h, p in hosts],
            username=user,
            password=password,
            ssl=scheme.startswith("rediss"),
            max_connections=opts.max_connections,
            **common,
        )
        return Topology("cluster", client)
    raise BadRedisUrl(
        f"REDIS_URL scheme {scheme!r} is not supported; use redis://, rediss://, redis+sentinel:// or redis+cluster://"
    )
