"""Authentication: the key on a request to its tenant, or a clear 401."""

from __future__ import annotations

from pathlib import Path

import pytest

from extproc.auth import Authenticator, Identity
from extproc.errors import GatewayError
from extproc.keys import FileKeyStore, KeyRecord, generate_key, new_record


@pytest.fixture
async def keys(tmp_path: Path) -> tuple[Authenticator, str, KeyRecord, FileKeyStore]:
    store = FileKeyStore(tmp_path / "keys.json")
    key = generate_key()
    record = new_record(key, "acme")
    await store.add(record)
    return Authenticator(store), key, record, store


@pytest.mark.parametrize("header", ["authorization", "x-api-key"])
async def test_either_sdk_header_identifies_the_tenant(keys, header: str) -> None:  # noqa: ANN001
    auth, key, record, _ = keys
    value = f"Bearer {key}" if header == "authorization" else key
    assert await auth.identify({header: value}) == Identity("acme", record.id)


@pytest.mark.parametrize(
    ("headers", "code"),
    [({}, "missing_api_key"), ({"authorization": "Bearer "}, "missing_api_key"), ({"authorization": "Bearer sk-gw-wrong"}, "invalid_api_key"), ({"x-api-key": "sk-ant-provider-key"}, "invalid_api_key")],
)
async def test_a_missing_or_unknown_key_is_a_401_that_never_echoes_it(keys, headers: dict[str, str], code: str) -> None:  # noqa: ANN001
    auth, *_ = keys
    with pytest.raises(GatewayError) as raised:
        await auth.identify(headers)
    assert raised.value.status == 401 and raised.value.code == code
    for value in headers.values():
        if value.strip() not in ("Bearer", ""):
            assert value.split()[-1] not in raised.value.message


async def test_a_revoked_key_is_refused(keys) -> None:  # noqa: ANN001
    auth, key, record, store = keys
    await store.revoke(record.id)
    with pytest.raises(GatewayError, match="revoked"):
        await auth.identify({"authorization": f"Bearer {key}"})


async def test_an_unreachable_store_is_a_503_not_a_401() -> None:
    class Down:
        async def find(self, key_digest: str) -> None:
            raise ConnectionError("redis is down")

    with pytest.raises(GatewayError) as raised:
        await Authenticator(Down()).identify({"authorization": "Bearer sk-gw-x"})  # type: ignore[arg-type]
    assert raised.value.status == 503


async def test_without_authentication_everyone_is_the_anonymous_tenant() -> None:
    assert (await Authenticator(None).identify({})).tenant == "anonymous"
