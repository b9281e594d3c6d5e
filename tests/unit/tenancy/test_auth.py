"""Authentication: the key on a request to its tenant (and admin role), or a clear 401/403/503."""

from __future__ import annotations

from pathlib import Path

import pytest

from extproc.errors import GatewayError, StoreUnavailable
from extproc.tenancy.auth import Access, Authenticator, Identity, peer_is_loopback
from extproc.tenancy.keys import FileKeyStore, KeyRecord, generate_key, new_record


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
    assert await auth.identify({header: value}) == Identity("acme", record.id, admin=False)


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
            raise StoreUnavailable("redis keys: ConnectionError")

    with pytest.raises(GatewayError) as raised:
        await Authenticator(Down()).identify({"authorization": "Bearer sk-gw-x"})  # type: ignore[arg-type]
    assert raised.value.status == 503


async def test_without_authentication_everyone_is_the_anonymous_tenant() -> None:
    assert (await Authenticator(None).identify({})).tenant == "anonymous"


async def test_a_broken_key_file_is_a_503(tmp_path: Path) -> None:
    (tmp_path / "keys.json").write_text("{not json")
    with pytest.raises(GatewayError) as raised:
        await Authenticator(FileKeyStore(tmp_path / "keys.json")).identify({"authorization": "Bearer sk-gw-x"})
    assert raised.value.status == 503 and raised.value.code == "auth_unavailable"


# --- admin keys and the operators' endpoints ---------------------------------------------------


@pytest.fixture
async def admin_and_tenant(tmp_path: Path) -> tuple[FileKeyStore, str, str]:
    store = FileKeyStore(tmp_path / "keys.json")
    admin, tenant = generate_key(), generate_key()
    await store.add(new_record(admin, "ops", "scraper", admin=True))
    await store.add(new_record(tenant, "acme"))
    return store, admin, tenant


@pytest.mark.parametrize("access", [Access.ADMIN, Access.SCRAPE])
async def test_admin_endpoints_answer_admin_keys_from_any_peer_and_refuse_tenants(admin_and_tenant, access: Access) -> None:  # noqa: ANN001
    store, admin, tenant = admin_and_tenant
    auth = Authenticator(store)
    identity = await auth.identify({"authorization": f"Bearer {admin}"}, access, "192.0.2.7:40000")
    assert identity.admin and identity.tenant == "ops"
    with pytest.raises(GatewayError) as refused:
        await auth.identify({"authorization": f"Bearer {tenant}"}, access, "127.0.0.1:40000")
    assert refused.value.status == 403 and refused.value.code == "admin_key_required" and "--admin" in refused.value.message
    with pytest.raises(GatewayError) as keyless:
        await auth.identify({}, access, "127.0.0.1:40000")
    assert keyless.value.status == 401
    # An admin key is a tenant's key too.
    assert (await auth.identify({"authorization": f"Bearer {admin}"})).tenant == "ops"


@pytest.mark.parametrize(("peer", "allowed"), [("127.0.0.1:40000", True), ("[::1]:40000", True), ("192.0.2.7:40000", False), ("", False)])
async def test_keyless_local_scrapes_only_where_the_settings_allow_them(admin_and_tenant, peer: str, allowed: bool) -> None:  # noqa: ANN001
    store, *_ = admin_and_tenant
    auth = Authenticator(store, loopback_metrics_without_key=True)
    if allowed:
        assert (await auth.identify({}, Access.SCRAPE, peer)).tenant == "anonymous"
    else:
        with pytest.raises(GatewayError):
            await auth.identify({}, Access.SCRAPE, peer)
    with pytest.raises(GatewayError):  # other admin endpoints never open to keyless peers
        await auth.identify({}, Access.ADMIN, peer)


async def test_without_authentication_no_one_is_an_admin() -> None:
    with pytest.raises(GatewayError) as raised:
        await Authenticator(None).identify({}, Access.SCRAPE, "127.0.0.1:1")
    assert raised.value.status == 403 and "auth.mode: none" in raised.value.message
    assert (await Authenticator(None, loopback_metrics_without_key=True).identify({}, Access.SCRAPE, "127.0.0.1:1")).tenant == "anonymous"


@pytest.mark.parametrize(
    ("source", "loopback"),
    [("127.0.0.1:5000", True), ("127.8.9.10:5000", True), ("[::1]:5000", True), ("10.0.0.1:5000", False), ("[2001:db8::1]:5000", False), ("garbage", False), ("", False)],
)
def test_loopback_peers_are_recognised(source: str, loopback: bool) -> None:
    assert peer_is_loopback(source) is loopback
