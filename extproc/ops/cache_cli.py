"""`llm-gateway cache purge --tenant NAME`: forget a tenant's cached answers in the shared store."""

from __future__ import annotations

import argparse
import asyncio
import sys

from extproc.errors import StoreUnavailable


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `cache` subcommands."""
    parser.add_argument("--config", default=None, help="envoy.yaml naming the store (default: the shipped one)")
    parser.add_argument("--redis-url", default=None, help="the shared store, instead of the one envoy.yaml names")
    actions = parser.add_subparsers(dest="action", required=True)
    purge = actions.add_parser("purge", help="forget every cached answer of a tenant")
    purge.add_argument("--tenant", required=True, help="the tenant whose entries go")


def run(args: argparse.Namespace) -> int:
    """Carry out one `cache` subcommand."""
    from extproc.cache.sqlite_store import SqliteCache  # noqa: PLC0415 - keeps `--help` fast
    from extproc.cache.store import RedisCache  # noqa: PLC0415
    from extproc.config.envoy_yaml import DEFAULT_CONFIG, read_config  # noqa: PLC0415
    from extproc.stores import redis_client  # noqa: PLC0415
    from extproc.tenancy.settings import load_settings  # noqa: PLC0415

    settings = load_settings(read_config(args.config or DEFAULT_CONFIG)).with_overrides(redis_url=args.redis_url)
    if settings.store == "memory":
        print(
            "problem: this configuration keeps the cache in each service process (store.kind: memory); "
            "restart the service, or have the tenant call DELETE /v1/gateway/cache",
            file=sys.stderr,
        )
        return 1

    async def purge() -> int:
        if settings.store == "sqlite":
            cache = SqliteCache(settings.store_path)
            try:
                return await cache.purge(args.tenant)
            finally:
                cache.close()
        client = redis_client(settings.redis_url or "")
        try:
            return await RedisCache(client).purge(args.tenant)
        finally:
            await client.aclose()

    try:
        deleted = asyncio.run(purge())
    except StoreUnavailable as exc:
        print(f"problem: the store cannot be reached: {exc}", file=sys.stderr)
        return 1
    print(f"purged {deleted} cached answers of tenant {args.tenant!r}")
    return 0
