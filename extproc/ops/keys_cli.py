"""`llm-gateway keys create|list|revoke`: manage API keys in the store envoy.yaml names.

The key is printed once, by `create`; the store keeps only its hash.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime

from extproc.errors import StoreUnavailable
from extproc.tenancy.keys import KeyRecord, KeyStore, KeyStoreError, generate_key, new_record


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `keys` subcommands."""
    parser.add_argument("--config", default=None, help="envoy.yaml naming the key store (default: the shipped one)")
    parser.add_argument("--keys-file", default=None, help="the key file, instead of the one envoy.yaml names")
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="make a key for a tenant and print it (once)")
    create.add_argument("--tenant", required=True, help="the tenant the key belongs to (letters, digits, - _ .)")
    create.add_argument("--name", default="", help="a label to tell keys apart (who or what uses it)")
    create.add_argument(
        "--admin", action="store_true", help="an admin key: it may also read the operators' endpoints (GET /metrics)"
    )
    actions.add_parser("list", help="list keys: id, tenant, name, first characters, role, state")
    revoke = actions.add_parser("revoke", help="revoke a key by its id (it stops working within seconds)")
    revoke.add_argument("key_id", help="the key's id, from `keys list`")


def run(args: argparse.Namespace) -> int:
    """Carry out one `keys` subcommand."""
    store = _open_store(args.config, args.keys_file)
    if store is None:
        print("problem: authentication is off in this configuration (auth.mode: none); there are no keys", file=sys.stderr)
        return 1
    try:
        return asyncio.run(_run(store, args))
    except (KeyStoreError, StoreUnavailable) as exc:
        print(f"problem: {exc}", file=sys.stderr)
        return 1


def _open_store(config_path: str | None, keys_file: str | None) -> KeyStore | None:
    """The key store of a configuration, or None when it turns authentication off."""
    from extproc.app import build_stores  # noqa: PLC0415 - keeps `--help` fast
    from extproc.config.envoy_yaml import DEFAULT_CONFIG, read_config  # noqa: PLC0415 - keeps `--help` fast
    from extproc.tenancy.settings import load_settings  # noqa: PLC0415

    settings = load_settings(read_config(config_path or DEFAULT_CONFIG)).with_overrides(keys_file=keys_file)
    keys, _ = build_stores(settings)
    return keys


async def _run(store: KeyStore, args: argparse.Namespace) -> int:
    if args.action == "create":
        key = generate_key()
        record = new_record(key, args.tenant, args.name, admin=args.admin)
        await store.add(record)
        print(key)
        kind = "admin key" if record.admin else "key"
        print(f"created {kind} {record.id} for tenant {record.tenant!r}; the key is shown only now", file=sys.stderr)
    elif args.action == "list":
        print(f"{'ID':<18} {'TENANT':<20} {'KEY':<14} {'CREATED':<20} {'ROLE':<7} {'STATE':<8} NAME")
        for record in await store.records():
            print(_row(record))
    else:
        record = await store.revoke(args.key_id)
        print(f"revoked {record.id} of tenant {record.tenant!r}")
    return 0


def _row(record: KeyRecord) -> str:
    created = datetime.fromtimestamp(record.created, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
    state = "active" if record.active else "revoked"
    role = "admin" if record.admin else "tenant"
    return f"{record.id:<18} {record.tenant:<20} {record.shown:<14} {created:<20} {role:<7} {state:<8} {record.name}"
