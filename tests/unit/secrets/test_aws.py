"""AWS Secrets Manager and KMS, against moto's standalone server (the suite's only fake)."""

from __future__ import annotations

import secrets

import boto3
import pytest

from keyguard.errors import ConfigurationError, InvalidInput, NotFound
from keyguard.secrets.aws import KmsKeyWrapper, SecretsManagerProvider, make_session
from keyguard.secrets.interfaces import SecretValue, WrappedKey

DATA_KEY = bytes(range(32))


@pytest.fixture
def provider(aws_env: dict[str, str]) -> SecretsManagerProvider:
    prefix = f"keyguard-tests/{secrets.token_hex(4)}/"
    return SecretsManagerProvider.from_session(make_session(), prefix=prefix)


@pytest.fixture
def kms(aws_env: dict[str, str]) -> boto3.session.Session:
    return make_session()


def _key_with_alias(session: boto3.session.Session) -> tuple[str, str]:
    client = session.client("kms")
    arn = client.create_key()["KeyMetadata"]["Arn"]
    alias = f"alias/keyguard-{secrets.token_hex(4)}"
    client.create_alias(AliasName=alias, TargetKeyId=arn)
    return alias, arn


def test_put_creates_then_adds_versions(provider: SecretsManagerProvider) -> None:
    first = provider.put("smtp/relay", SecretValue("pw-1"))
    second = provider.put("smtp/relay", SecretValue("pw-2"))
    assert first != second
    assert provider.get("smtp/relay").reveal() == "pw-2"
    assert provider.get("smtp/relay", first).reveal() == "pw-1"
    versions = provider.versions("smtp/relay")
    assert {v.id for v in versions} == {first, second}
    assert [v.id for v in versions if v.current] == [second]


def test_binary_values_round_trip(provider: SecretsManagerProvider) -> None:
    provider.put("blob", SecretValue(b"\x00\xff"))
    assert provider.get("blob").reveal_bytes() == b"\x00\xff"


def test_missing_secret_is_not_found(provider: SecretsManagerProvider) -> None:
    # Only `get`: moto 5.2 answers ListSecretVersionIds on a missing secret with a 500 where
    # AWS says ResourceNotFoundException, which `versions` maps the same way as here.
    with pytest.raises(NotFound):
        provider.get("absent")


def test_health_checks_the_credentials(provider: SecretsManagerProvider) -> None:
    provider.health()


def test_missing_credentials_are_a_configuration_error(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    provider = SecretsManagerProvider.from_session(make_session(), prefix="x/")
    with pytest.raises(ConfigurationError, match="no usable AWS credentials"):
        provider.get("pepper")


def test_an_unreachable_endpoint_is_a_configuration_error(
    aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    provider = SecretsManagerProvider.from_session(make_session(), prefix="x/")
    with pytest.raises(ConfigurationError, match="cannot reach AWS"):
        provider.get("pepper")


def test_kms_wrap_and_unwrap_record_the_key_arn(kms: boto3.session.Session) -> None:
    alias, arn = _key_with_alias(kms)
    wrapper = KmsKeyWrapper.from_session(kms, key=alias)
    wrapped = wrapper.wrap(DATA_KEY)
    assert wrapped.key_id == arn == wrapper.key_id
    assert wrapper.unwrap(wrapped.ciphertext, wrapped.key_id) == DATA_KEY
    wrapper.health()


def test_kms_rewrap_follows_the_alias_to_a_new_key(kms: boto3.session.Session) -> None:
    alias, old_arn = _key_with_alias(kms)
    wrapper = KmsKeyWrapper.from_session(kms, key=alias)
    old = wrapper.wrap(DATA_KEY)
    new_arn = kms.client("kms").create_key()["KeyMetadata"]["Arn"]
    kms.client("kms").update_alias(AliasName=alias, TargetKeyId=new_arn)
    assert wrapper.key_id == new_arn != old_arn
    [moved] = wrapper.rewrap([old])
    assert moved.key_id == new_arn
    assert wrapper.unwrap(moved.ciphertext, moved.key_id) == DATA_KEY


def test_kms_refuses_a_tampered_wrapped_key(kms: boto3.session.Session) -> None:
    alias, _ = _key_with_alias(kms)
    wrapper = KmsKeyWrapper.from_session(kms, key=alias)
    wrapped = wrapper.wrap(DATA_KEY)
    tampered = wrapped.ciphertext[:-1] + bytes([wrapped.ciphertext[-1] ^ 1])
    with pytest.raises(InvalidInput) as raised:
        wrapper.unwrap(tampered, wrapped.key_id)
    assert raised.value.code == "envelope_tampered"
    with pytest.raises(InvalidInput):
        wrapper.rewrap([WrappedKey(wrapped.key_id, tampered)])


def test_kms_health_refuses_a_disabled_key(kms: boto3.session.Session) -> None:
    alias, arn = _key_with_alias(kms)
    # By key id: moto 5.2 fails DisableKey given an ARN (AWS accepts both).
    kms.client("kms").disable_key(KeyId=arn.rsplit("/", 1)[1])
    with pytest.raises(ConfigurationError, match="Disabled"):
        KmsKeyWrapper.from_session(kms, key=alias).health()


def test_kms_unknown_key_is_not_found(kms: boto3.session.Session) -> None:
    with pytest.raises(NotFound):
        KmsKeyWrapper.from_session(kms, key="alias/absent").health()
