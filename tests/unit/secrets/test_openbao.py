"""OpenBao against a real dev server: KV v2, Transit, AppRole, TLS verification."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from keyguard.errors import ConfigurationError, InvalidInput, NotFound
from keyguard.secrets.interfaces import SecretValue, WrappedKey
from keyguard.secrets.openbao import (
    AppRoleAuth,
    OpenBaoConnection,
    OpenBaoSecretProvider,
    TokenAuth,
    TransitKeyWrapper,
    check_address,
)
from tests.unit.secrets.conftest import Bao
from tests.unit.secrets.servers import OpenBaoServer, start_openbao

pytestmark = pytest.mark.openbao

DATA_KEY = bytes(range(32))


def test_kv_put_get_and_versions(bao: Bao) -> None:
    assert bao.provider.put("smtp/relay", SecretValue("pw-1")) == "1"
    assert bao.provider.put("smtp/relay", SecretValue("pw-2")) == "2"
    assert bao.provider.get("smtp/relay").reveal() == "pw-2"
    assert bao.provider.get("smtp/relay", "1").reveal() == "pw-1"
    versions = bao.provider.versions("smtp/relay")
    assert [(v.id, v.current) for v in versions] == [("1", False), ("2", True)]
    assert all(v.created_at is not None for v in versions)


def test_kv_binary_values_round_trip(bao: Bao) -> None:
    bao.provider.put("blob", SecretValue(b"\x00\xff"))
    assert bao.provider.get("blob").reveal_bytes() == b"\x00\xff"


def test_kv_deleted_versions_are_not_listed(bao: Bao) -> None:
    bao.provider.put("pepper", SecretValue("one"))
    bao.provider.put("pepper", SecretValue("two"))
    bao.admin().secrets.kv.v2.delete_secret_versions(
        path=f"{bao.provider.prefix}/pepper", versions=[1]
    )
    assert [v.id for v in bao.provider.versions("pepper")] == ["2"]
    with pytest.raises(NotFound):
        bao.provider.get("pepper", "1")


def test_kv_missing_secret_is_not_found(bao: Bao) -> None:
    with pytest.raises(NotFound, match="absent"):
        bao.provider.get("absent")
    with pytest.raises(NotFound):
        bao.provider.versions("absent")


def test_health_passes_with_a_valid_token(bao: Bao) -> None:
    bao.provider.health()
    bao.wrapper.health()


def test_a_wrong_token_is_a_configuration_error(openbao_server: OpenBaoServer) -> None:
    connection = OpenBaoConnection(openbao_server.address, TokenAuth(SecretValue("wrong")))
    with pytest.raises(ConfigurationError, match="denied"):
        connection.health()


def test_an_unreachable_server_is_a_configuration_error() -> None:
    connection = OpenBaoConnection("http://127.0.0.1:9", TokenAuth(SecretValue("t")))
    with pytest.raises(ConfigurationError, match="cannot reach OpenBao"):
        connection.health()


def test_transit_wrap_and_unwrap(bao: Bao) -> None:
    wrapped = bao.wrapper.wrap(DATA_KEY)
    assert wrapped.key_id == f"transit/{bao.wrapper.key}:v1" == bao.wrapper.key_id
    assert bao.wrapper.unwrap(wrapped.ciphertext, wrapped.key_id) == DATA_KEY


def test_transit_rewrap_moves_to_the_rotated_key_version(bao: Bao) -> None:
    old = bao.wrapper.wrap_many([DATA_KEY, bytes(32)])
    bao.rotate_transit_key()
    assert bao.wrapper.key_id.endswith(":v2")
    moved = bao.wrapper.rewrap(old)
    assert [m.key_id for m in moved] == [bao.wrapper.key_id] * 2
    assert bao.wrapper.unwrap(moved[0].ciphertext, moved[0].key_id) == DATA_KEY
    # The old version still decrypts until min_decryption_version is raised.
    assert bao.wrapper.unwrap(old[1].ciphertext, old[1].key_id) == bytes(32)


def test_transit_default_batches_fit_openbaos_request_limits(bao: Bao) -> None:
    # 600 items: one request of 600 would exceed OpenBao's default max_request_json_strings.
    wrapper = TransitKeyWrapper(bao.connection, key=bao.wrapper.key)
    wrapped = wrapper.wrap_many([DATA_KEY] * 600)
    bao.rotate_transit_key()
    moved = wrapper.rewrap(wrapped)
    assert len(moved) == 600
    assert {m.key_id for m in moved} == {wrapper.key_id}


def test_transit_refuses_a_key_id_that_does_not_match_the_ciphertext(bao: Bao) -> None:
    wrapped = bao.wrapper.wrap(DATA_KEY)
    bao.rotate_transit_key()
    with pytest.raises(InvalidInput) as raised:
        bao.wrapper.unwrap(wrapped.ciphertext, wrapped.key_id.replace(":v1", ":v2"))
    assert raised.value.code == "envelope_tampered"


def test_transit_refuses_a_tampered_ciphertext(bao: Bao) -> None:
    wrapped = bao.wrapper.wrap(DATA_KEY)
    tampered = wrapped.ciphertext[:-6] + b"AAAAA="
    with pytest.raises(InvalidInput) as raised:
        bao.wrapper.unwrap(tampered, wrapped.key_id)
    assert raised.value.code == "envelope_tampered"
    with pytest.raises(InvalidInput):
        bao.wrapper.rewrap([WrappedKey(wrapped.key_id, tampered)])


def test_transit_refuses_a_key_wrapped_by_another_transit_key(bao: Bao) -> None:
    other = TransitKeyWrapper(bao.connection, key="other-" + secrets.token_hex(3))
    other.ensure_key()
    wrapped = other.wrap(DATA_KEY)
    with pytest.raises(ConfigurationError, match="not by Transit key"):
        bao.wrapper.unwrap(wrapped.ciphertext, wrapped.key_id)


def test_health_names_a_missing_transit_key_and_how_to_create_it(bao: Bao) -> None:
    missing = TransitKeyWrapper(bao.connection, key="missing-key")
    with pytest.raises(ConfigurationError, match="bao write -f transit/keys/missing-key"):
        missing.health()


def _approle(bao: Bao) -> AppRoleAuth:
    """A role whose policy allows exactly this test's KV prefix and Transit key."""
    admin = bao.admin()
    role = "r" + secrets.token_hex(4)
    policy = f"""
path "secret/data/{bao.provider.prefix}/*" {{ capabilities = ["create", "read", "update"] }}
path "secret/metadata/{bao.provider.prefix}/*" {{ capabilities = ["read"] }}
path "transit/keys/{bao.wrapper.key}" {{ capabilities = ["read"] }}
path "transit/encrypt/{bao.wrapper.key}" {{ capabilities = ["update"] }}
path "transit/decrypt/{bao.wrapper.key}" {{ capabilities = ["update"] }}
path "transit/rewrap/{bao.wrapper.key}" {{ capabilities = ["update"] }}
"""
    admin.sys.create_or_update_policy(name=role, policy=policy)
    admin.auth.approle.create_or_update_approle(role_name=role, token_policies=[role])
    role_id = admin.auth.approle.read_role_id(role_name=role)["data"]["role_id"]
    secret_id = admin.auth.approle.generate_secret_id(role_name=role)["data"]["secret_id"]
    return AppRoleAuth(role_id, SecretValue(secret_id))


def test_approle_login_reads_and_writes_within_its_policy(bao: Bao) -> None:
    connection = OpenBaoConnection(bao.server.address, _approle(bao))
    provider = OpenBaoSecretProvider(connection, prefix=bao.provider.prefix)
    wrapper = TransitKeyWrapper(connection, key=bao.wrapper.key)
    provider.put("pepper", SecretValue("approle-value"))
    assert provider.get("pepper").reveal() == "approle-value"
    wrapper.health()
    with pytest.raises(ConfigurationError, match="denied"):
        OpenBaoSecretProvider(connection, prefix="elsewhere").get("pepper")


def test_approle_logs_in_again_when_its_token_is_revoked(bao: Bao) -> None:
    connection = OpenBaoConnection(bao.server.address, _approle(bao))
    provider = OpenBaoSecretProvider(connection, prefix=bao.provider.prefix)
    provider.put("pepper", SecretValue("v"))
    connection.call("revoke", lambda c: c.auth.token.revoke_self())
    assert provider.get("pepper").reveal() == "v"


def test_approle_with_a_wrong_secret_id_is_a_configuration_error(bao: Bao) -> None:
    auth = AppRoleAuth(_approle(bao).role_id, SecretValue("wrong-secret-id"))
    with pytest.raises(ConfigurationError):
        OpenBaoConnection(bao.server.address, auth).health()


def test_tls_verification_is_on_by_default(openbao_server: OpenBaoServer) -> None:
    connection = OpenBaoConnection(openbao_server.address, TokenAuth(SecretValue("t")))
    assert connection.verify is True
    assert connection.session_verify is True


@pytest.mark.parametrize(
    "address", ["http://bao.internal:8200", "http://10.0.0.5:8200", "ftp://127.0.0.1"]
)
def test_plain_http_is_refused_off_loopback(address: str) -> None:
    with pytest.raises(ConfigurationError, match="must use https"):
        check_address(address)


@pytest.mark.parametrize("address", ["https://bao.internal:8200", "http://127.0.0.1:8200"])
def test_https_anywhere_and_http_on_loopback_are_accepted(address: str) -> None:
    check_address(address)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> OpenBaoServer:
    from tests.services import OPENBAO, service_url

    service_url(OPENBAO)
    server = start_openbao(tmp_path_factory.mktemp("openbao-tls"), tls=True)
    yield server  # type: ignore[misc]
    server.stop()


def test_tls_server_with_an_unknown_ca_is_refused(tls_server: OpenBaoServer) -> None:
    connection = OpenBaoConnection(
        tls_server.address, TokenAuth(SecretValue(tls_server.root_token))
    )
    with pytest.raises(ConfigurationError, match="TLS verification"):
        connection.health()


def test_tls_server_is_trusted_with_its_ca_bundle(tls_server: OpenBaoServer) -> None:
    assert tls_server.ca_bundle is not None
    connection = tls_server.connection()
    assert connection.session_verify == str(tls_server.ca_bundle)
    connection.health()


def test_a_missing_ca_bundle_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="CA bundle"):
        OpenBaoConnection(
            "https://127.0.0.1:8200",
            TokenAuth(SecretValue("t")),
            ca_bundle=tmp_path / "absent.pem",
        )
