"""AWS: Secrets Manager holds secrets, KMS wraps data keys; credentials come from boto3's chain.

The standard variables apply (AWS_REGION, AWS_PROFILE, AWS_ACCESS_KEY_ID …, AWS_CA_BUNDLE and
AWS_ENDPOINT_URL). TLS verification stays boto3's default: on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, TypeVar

import boto3
import botocore.exceptions
from botocore.config import Config

from keyguard.errors import ConfigurationError, InvalidInput, NotFound
from keyguard.secrets.interfaces import SecretValue, SecretVersion, WrappedKey, validate_name

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

log = logging.getLogger(__name__)

T = TypeVar("T")

KMS_KIND: Final = "aws-kms"
# Bound into every wrapped data key: a KMS ciphertext made for anything else will not decrypt.
ENCRYPTION_CONTEXT: Final = {"keyguard": "data-key"}
_CONFIG = Config(
    connect_timeout=5, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"}
)
_NOT_FOUND = {"ResourceNotFoundException", "NotFoundException"}
_TAMPERED = {"InvalidCiphertextException", "IncorrectKeyException"}


def client_config() -> Config:
    """Timeouts and retries of every AWS client Keyguard makes."""
    return _CONFIG


def make_session() -> boto3.session.Session:
    """A boto3 session from the standard environment (built at startup, never at import)."""
    return boto3.session.Session()


def call(operation: str, request: Callable[[], T]) -> T:
    """Run one AWS request and map its failures onto Keyguard's error tree."""
    try:
        return request()
    except (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError):
        raise ConfigurationError(
            f"no usable AWS credentials for {operation}: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with an instance or task role"
        ) from None
    except botocore.exceptions.NoRegionError:
        raise ConfigurationError("no AWS region: set AWS_REGION or AWS_DEFAULT_REGION") from None
    except botocore.exceptions.SSLError:
        raise ConfigurationError(
            f"TLS verification failed during {operation}; give a private CA in AWS_CA_BUNDLE"
        ) from None
    except (
        botocore.exceptions.EndpointConnectionError,
        botocore.exceptions.ConnectTimeoutError,
        botocore.exceptions.ReadTimeoutError,
    ) as exc:
        raise ConfigurationError(f"cannot reach AWS during {operation}: {exc}") from None
    except botocore.exceptions.ClientError as exc:
        raise _client_error(operation, exc) from None


def _client_error(operation: str, exc: botocore.exceptions.ClientError) -> Exception:
    code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
    if code in _NOT_FOUND:
        return NotFound(f"AWS found nothing for {operation}")
    if code in _TAMPERED:
        return InvalidInput(f"KMS refused {operation}: {code}", code="envelope_tampered")
    return ConfigurationError(f"AWS refused {operation}: {code}")


class SecretsManagerProvider:
    """Secrets in AWS Secrets Manager, named `<prefix><name>` (prefix "keyguard/" by default)."""

    kind = "aws"

    def __init__(
        self,
        client: SecretsManagerClient,
        *,
        prefix: str = "keyguard/",
        session: boto3.session.Session | None = None,
    ) -> None:
        self._client = client
        self._session = session
        self.prefix = prefix

    @classmethod
    def from_session(cls, session: boto3.session.Session, *, prefix: str) -> SecretsManagerProvider:
        return cls(session.client("secretsmanager", config=_CONFIG), prefix=prefix, session=session)

    def get(self, name: str, version: str | None = None) -> SecretValue:
        secret_id = self._secret_id(name)
        extra = {"VersionId": version} if version is not None else {}
        try:
            response = call(
                f"reading secret {name!r}",
                lambda: self._client.get_secret_value(SecretId=secret_id, **extra),
            )
        except NotFound:
            raise NotFound(f"no secret {secret_id!r} (version {version or 'current'})") from None
        value: bytes | str = response.get("SecretString") or response.get("SecretBinary", b"")
        return SecretValue(value, version=response["VersionId"])

    def put(self, name: str, value: SecretValue) -> str:
        secret_id = self._secret_id(name)
        payload: dict[str, Any] = (
            {"SecretString": value.reveal()}
            if value.is_text()
            else {"SecretBinary": value.reveal_bytes()}
        )
        try:
            response: Any = call(
                f"writing secret {name!r}",
                lambda: self._client.put_secret_value(SecretId=secret_id, **payload),
            )
        except NotFound:
            response = call(
                f"creating secret {name!r}",
                lambda: self._client.create_secret(Name=secret_id, **payload),
            )
        version = str(response["VersionId"])
        log.info("secrets.aws.put", extra={"secret_name": name, "version": version})
        return version

    def versions(self, name: str) -> list[SecretVersion]:
        secret_id = self._secret_id(name)
        try:
            response = call(
                f"listing versions of {name!r}",
                lambda: self._client.list_secret_version_ids(SecretId=secret_id),
            )
        except NotFound:
            raise NotFound(f"no secret {secret_id!r}") from None
        # A version without staging labels is deprecated: AWS drops it (and lists it only when
        # asked to include deprecated versions); it is not readable by label, so not ours.
        entries = sorted(
            (v for v in response.get("Versions", []) if v.get("VersionStages")),
            key=lambda v: v.get("CreatedDate") or 0,
        )
        return [
            SecretVersion(
                str(entry["VersionId"]),
                current="AWSCURRENT" in entry.get("VersionStages", []),
                created_at=entry.get("CreatedDate"),
            )
            for entry in entries
        ]

    def label(self, name: str, version: str, label: str) -> None:
        """Attach a staging label to a version, so that it stays readable (listed) after
        AWSCURRENT and AWSPREVIOUS have moved on; AWS deprecates versions without a label."""
        secret_id = self._secret_id(name)
        call(
            f"labelling version {version} of {name!r}",
            lambda: self._client.update_secret_version_stage(
                SecretId=secret_id, VersionStage=label, MoveToVersionId=version
            ),
        )

    def retire(self, name: str, version: str) -> None:
        secret_id = self._secret_id(name)
        stages = self._stages(name).get(version)
        if stages is None:
            raise NotFound(f"secret {secret_id!r} has no version {version!r}")
        if "AWSCURRENT" in stages:
            raise InvalidInput(
                f"version {version} is the current version of secret {name!r}",
                code="secret_version_current",
            )
        # Without labels the version is deprecated: unlisted, and in time removed by AWS.
        for stage in stages:
            self._unlabel(secret_id, version, stage)
        log.info("secrets.aws.retired", extra={"secret_name": name, "version": version})

    def _unlabel(self, secret_id: str, version: str, stage: str) -> None:
        call(
            f"removing label {stage} from version {version} of {secret_id!r}",
            lambda: self._client.update_secret_version_stage(
                SecretId=secret_id, VersionStage=stage, RemoveFromVersionId=version
            ),
        )

    def _stages(self, name: str) -> dict[str, list[str]]:
        secret_id = self._secret_id(name)
        response = call(
            f"describing secret {name!r}", lambda: self._client.describe_secret(SecretId=secret_id)
        )
        return {k: list(v) for k, v in response.get("VersionIdsToStages", {}).items()}

    def health(self) -> None:
        session = self._session or make_session()
        sts = session.client("sts", config=_CONFIG)
        call("checking AWS credentials", sts.get_caller_identity)

    def _secret_id(self, name: str) -> str:
        return self.prefix + validate_name(name)

    def __repr__(self) -> str:
        return f"SecretsManagerProvider(prefix={self.prefix!r})"


class KmsKeyWrapper:
    """Wraps data keys with a KMS key; the key id recorded is the key's ARN.

    Point `key` at an alias to rotate by re-pointing the alias: rows wrapped under the old
    ARN are then moved by `keyguard secrets rewrap` (KMS ReEncrypt, inside KMS). KMS's own
    automatic rotation keeps the ARN and needs no rewrap.
    """

    kind = KMS_KIND

    def __init__(self, client: KMSClient, *, key: str) -> None:
        self._client = client
        self.key = key

    @classmethod
    def from_session(cls, session: boto3.session.Session, *, key: str) -> KmsKeyWrapper:
        return cls(session.client("kms", config=_CONFIG), key=key)

    @property
    def key_id(self) -> str:
        response = call("describing the KMS key", lambda: self._client.describe_key(KeyId=self.key))
        return response["KeyMetadata"]["Arn"]

    def wrap(self, data_key: bytes) -> WrappedKey:
        response = call(
            "wrapping a data key",
            lambda: self._client.encrypt(
                KeyId=self.key, Plaintext=data_key, EncryptionContext=ENCRYPTION_CONTEXT
            ),
        )
        return WrappedKey(response["KeyId"], response["CiphertextBlob"])

    def unwrap(self, wrapped: bytes, key_id: str) -> bytes:
        response = call(
            f"unwrapping a data key wrapped under {key_id}",
            lambda: self._client.decrypt(
                CiphertextBlob=wrapped, KeyId=key_id, EncryptionContext=ENCRYPTION_CONTEXT
            ),
        )
        return response["Plaintext"]

    def rewrap(self, items: Sequence[WrappedKey]) -> list[WrappedKey]:
        return [self._rewrap_one(item) for item in items]

    def health(self) -> None:
        response = call("describing the KMS key", lambda: self._client.describe_key(KeyId=self.key))
        state = response["KeyMetadata"].get("KeyState")
        if state != "Enabled":
            raise ConfigurationError(f"KMS key {self.key!r} is {state}, not Enabled")
        probe = bytes(32)
        wrapped = self.wrap(probe)
        if self.unwrap(wrapped.ciphertext, wrapped.key_id) != probe:
            raise ConfigurationError(f"KMS key {self.key!r} does not round-trip")

    def _rewrap_one(self, item: WrappedKey) -> WrappedKey:
        response = call(
            f"rewrapping a data key wrapped under {item.key_id}",
            lambda: self._client.re_encrypt(
                CiphertextBlob=item.ciphertext,
                SourceKeyId=item.key_id,
                SourceEncryptionContext=ENCRYPTION_CONTEXT,
                DestinationKeyId=self.key,
                DestinationEncryptionContext=ENCRYPTION_CONTEXT,
            ),
        )
        return WrappedKey(response["KeyId"], response["CiphertextBlob"])

    def __repr__(self) -> str:
        return f"KmsKeyWrapper(key={self.key!r})"
