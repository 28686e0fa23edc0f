"""Delivery targets: write a key into a consumer's OpenBao KV v2 secret or AWS secret, staged.

Addresses (what `--deliver` takes, and what consumers give keyguard_client.load_key)::

    openbao:<mount>/<path>[#<field>]   KV v2 secret <mount>/data/<path>, field `key` by default
    aws:<secret-id>[#<field>]          Secrets Manager secret: the whole SecretString, or one
                                       field of it as a JSON object

Staging keeps consumers on the current key until the new one is promoted:

- **OpenBao**: the pending key is written as a new KV version *beside* the current one, in
  `<field>_pending` (with `<field>_pending_delivery`, the delivery's id); consumers keep reading
  `<field>`. Promotion writes the next version with the key in `<field>` and the pending fields
  gone (`<field>_delivery` names the delivery that wrote it). Every write is check-and-set on
  the version read, so a concurrent writer makes the step fail rather than be overwritten; other
  fields of the secret are kept.
- **AWS**: the pending key is a new version labelled AWSPENDING, its version id derived from
  the delivery's id (so a retried stage is idempotent); promotion moves AWSCURRENT to it (AWS
  moves AWSPREVIOUS to the old version). AWS makes the first version of an empty secret current
  at once: a first delivery into a secret that holds nothing has nothing to protect.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from keyguard.errors import InvalidInput, NotFound
from keyguard.rotation.interfaces import DeliveryTarget
from keyguard.secrets import SecretValue

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

    from keyguard.secrets import OpenBaoConnection, SecretsSettings

DEFAULT_FIELD: Final = "key"
_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9_.-]*"
_OPENBAO = re.compile(rf"(?P<mount>{_SEGMENT})/(?P<path>{_SEGMENT}(?:/{_SEGMENT})*)")
# Secret names: letters, digits and /_+=.@- (AWS's own rule); or a full ARN.
_AWS = re.compile(r"[A-Za-z0-9/_+=.@:-]{1,512}")
_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_PENDING, _CURRENT = "AWSPENDING", "AWSCURRENT"


@dataclass(frozen=True, slots=True)
class TargetAddress:
    scheme: str  # "openbao" or "aws"
    location: str  # "<mount>/<path>" or the secret id
    field: str | None

    def __str__(self) -> str:
        """The canonical form (the default OpenBao field left out), as stored and locked."""
        default = DEFAULT_FIELD if self.scheme == "openbao" else None
        suffix = f"#{self.field}" if self.field and self.field != default else ""
        return f"{self.scheme}:{self.location}{suffix}"


def parse_target(address: str) -> TargetAddress:
    """Parse `openbao:<mount>/<path>[#field]` or `aws:<secret-id>[#field]`."""
    scheme, sep, rest = address.strip().partition(":")
    location, _, field = rest.partition("#")
    if field and not _FIELD.fullmatch(field):
        raise _invalid(address, f"field {field!r} must be a letter then letters, digits, '_'")
    if sep and scheme == "openbao" and _OPENBAO.fullmatch(location.strip("/")):
        return TargetAddress("openbao", location.strip("/"), field or DEFAULT_FIELD)
    if sep and scheme == "aws" and _AWS.fullmatch(location):
        return TargetAddress("aws", location, field or None)
    raise _invalid(address, "use openbao:<mount>/<path>[#field] or aws:<secret-id>[#field]")


def _invalid(address: str, why: str) -> InvalidInput:
    return InvalidInput(
        f"invalid delivery target {address!r}: {why}",
        code="invalid_delivery_target",
        field="deliver",
    )


class Targets:
    """Opens delivery targets on connections built once, on first use (hvac/boto3 lazily)."""

    def __init__(
        self,
        *,
        openbao: Callable[[], OpenBaoConnection] | None = None,
        aws: Callable[[], SecretsManagerClient] | None = None,
    ) -> None:
        self._openbao_factory = openbao
        self._aws_factory = aws
        self._openbao: OpenBaoConnection | None = None
        self._aws: SecretsManagerClient | None = None

    @classmethod
    def from_settings(cls, settings: SecretsSettings) -> Targets:
        """OpenBao with BAO_ADDR and a token or AppRole; AWS with boto3's standard chain."""

        def openbao() -> OpenBaoConnection:
            from keyguard.secrets import openbao_connection  # noqa: PLC0415 - hvac and boto3 load only for the backends that use them

            return openbao_connection(settings)

        def aws() -> SecretsManagerClient:
            from keyguard.secrets import client_config, make_session  # noqa: PLC0415 - hvac and boto3 load only for the backends that use them

            return make_session().client("secretsmanager", config=client_config())

        return cls(openbao=openbao, aws=aws)

    def open(self, address: str | TargetAddress) -> DeliveryTarget:
        parsed = address if isinstance(address, TargetAddress) else parse_target(address)
        if parsed.scheme == "openbao":
            mount, _, path = parsed.location.partition("/")
            return OpenBaoTarget(
                self._openbao_connection(), mount, path, parsed.field or DEFAULT_FIELD
            )
        return AwsTarget(self._aws_client(), parsed.location, parsed.field)

    def _openbao_connection(self) -> OpenBaoConnection:
        if self._openbao is None:
            if self._openbao_factory is None:
                raise NotFound("no OpenBao connection is configured for delivery")
            self._openbao = self._openbao_factory()
        return self._openbao

    def _aws_client(self) -> SecretsManagerClient:
        if self._aws is None:
            if self._aws_factory is None:
                raise NotFound("no AWS client is configured for delivery")
            self._aws = self._aws_factory()
        return self._aws


class OpenBaoTarget:
    """A field of a KV v2 secret; the pending key sits in `<field>_pending` until promoted."""

    def __init__(self, connection: OpenBaoConnection, mount: str, path: str, field: str) -> None:
        self._connection = connection
        self.mount, self.path, self.field = mount, path, field
        self.address = str(TargetAddress("openbao", f"{mount}/{path}", field))
        self._pending = f"{field}_pending"
        self._pending_delivery = f"{field}_pending_delivery"
        self._delivery = f"{field}_delivery"

    def current(self) -> SecretValue | None:
        _, data = self._read()
        return _value(data.get(self.field))

    def pending(self, token: str) -> SecretValue | None:
        _, data = self._read()
        if data.get(self._pending_delivery) != token:
            return None
        return _value(data.get(self._pending))

    def stage(self, key: SecretValue, token: str) -> None:
        version, data = self._read()
        if data.get(self._pending_delivery) == token and _value(data.get(self._pending)) == key:
            return  # staged already (a retried step)
        staged = {**data, self._pending: key.reveal(), self._pending_delivery: token}
        self._write(staged, version, "staging a key")

    def promote(self, token: str) -> None:
        version, data = self._read()
        if data.get(self._delivery) == token and self._pending_delivery not in data:
            return  # promoted already
        if data.get(self._pending_delivery) != token:
            raise NotFound(f"{self.address} holds no pending key of delivery {token}")
        promoted = self._without_pending(data)
        promoted[self.field] = data[self._pending]
        promoted[self._delivery] = token
        self._write(promoted, version, "promoting the pending key")

    def discard(self, token: str) -> None:
        version, data = self._read()
        if data.get(self._pending_delivery) == token:
            self._write(self._without_pending(data), version, "discarding the pending key")

    def _without_pending(self, data: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in data.items() if k not in {self._pending, self._pending_delivery}}

    def _read(self) -> tuple[int, dict[str, Any]]:
        """(the version to check-and-set against, its data); (0, {}) for a new secret."""
        try:
            response = self._connection.call(
                f"reading {self.address}",
                lambda c: c.secrets.kv.v2.read_secret_version(
                    path=self.path, mount_point=self.mount, raise_on_deleted_version=True
                ),
            )
        except NotFound:
            return self._current_version(), {}
        data = response["data"]
        return int(data["metadata"]["version"]), dict(data["data"] or {})

    def _current_version(self) -> int:
        # The latest version may be deleted: check-and-set still wants its number.
        try:
            response = self._connection.call(
                f"reading metadata of {self.address}",
                lambda c: c.secrets.kv.v2.read_secret_metadata(
                    path=self.path, mount_point=self.mount
                ),
            )
        except NotFound:
            return 0
        return int(response["data"]["current_version"])

    def _write(self, data: dict[str, Any], version: int, action: str) -> None:
        self._connection.call(
            f"{action} in {self.address}",
            lambda c: c.secrets.kv.v2.create_or_update_secret(
                path=self.path, secret=data, cas=version, mount_point=self.mount
            ),
        )

    def __repr__(self) -> str:
        return f"OpenBaoTarget({self.address!r})"


class AwsTarget:
    """An AWS secret; the pending key is the version labelled AWSPENDING until promoted."""

    def __init__(self, client: SecretsManagerClient, secret_id: str, field: str | None) -> None:
        self._client = client
        self.secret_id, self.field = secret_id, field
        self.address = str(TargetAddress("aws", secret_id, field))

    def current(self) -> SecretValue | None:
        found = self._get(VersionStage=_CURRENT)
        return None if found is None else self._key_of(found["SecretString"])

    def pending(self, token: str) -> SecretValue | None:
        found = self._get(VersionId=_version_id(token))
        if found is None or _PENDING not in found.get("VersionStages", []):
            return None
        return self._key_of(found["SecretString"])

    def stage(self, key: SecretValue, token: str) -> None:
        from keyguard.secrets import call  # noqa: PLC0415 - lazy boto3

        if self.pending(token) == key:
            return  # staged already (a retried step)
        body = self._body(key)
        request = {
            "SecretId": self.secret_id,
            "ClientRequestToken": _version_id(token),
            "SecretString": body,
            "VersionStages": [_PENDING],
        }
        try:
            call(f"staging a key in {self.address}", lambda: self._put(request))
        except NotFound:
            call(
                f"creating {self.address}",
                lambda: self._client.create_secret(Name=self.secret_id),
            )
            call(f"staging a key in {self.address}", lambda: self._put(request))

    def promote(self, token: str) -> None:
        from keyguard.secrets import call  # noqa: PLC0415 - hvac and boto3 load only for the backends that use them

        version = _version_id(token)
        stages = self._stages()
        if version not in stages:
            raise NotFound(f"{self.address} holds no pending key of delivery {token}")
        if _CURRENT not in stages[version]:
            current = next((v for v, labels in stages.items() if _CURRENT in labels), None)
            extra = {"RemoveFromVersionId": current} if current else {}
            call(
                f"promoting the pending key in {self.address}",
                lambda: self._client.update_secret_version_stage(
                    SecretId=self.secret_id,
                    VersionStage=_CURRENT,
                    MoveToVersionId=version,
                    **extra,
                ),
            )
        if _PENDING in stages[version]:
            self._unlabel_pending(version)

    def discard(self, token: str) -> None:
        version = _version_id(token)
        labels = self._stages().get(version, [])
        if _PENDING in labels and _CURRENT not in labels:
            self._unlabel_pending(version)

    def _put(self, request: dict[str, Any]) -> Any:
        return self._client.put_secret_value(**request)

    def _unlabel_pending(self, version: str) -> None:
        from keyguard.secrets import call  # noqa: PLC0415 - hvac and boto3 load only for the backends that use them

        call(
            f"clearing AWSPENDING in {self.address}",
            lambda: self._client.update_secret_version_stage(
                SecretId=self.secret_id, VersionStage=_PENDING, RemoveFromVersionId=version
            ),
        )

    def _body(self, key: SecretValue) -> str:
        if self.field is None:
            return key.reveal()
        found = self._get(VersionStage=_CURRENT)
        document = _json_object(found["SecretString"]) if found else {}
        return json.dumps({**document, self.field: key.reveal()})

    def _key_of(self, text: str | None) -> SecretValue | None:
        if text is None:
            return None
        if self.field is None:
            return SecretValue(text)
        return _value(_json_object(text).get(self.field))

    def _get(self, **extra: str) -> dict[str, Any] | None:
        """One version, by id or by label. The current one is asked for by its label,
        AWSCURRENT, explicitly: AWS's default, and moto 5.2 (which keeps answering the old
        version after UpdateSecretVersionStage when no label is given) agrees with it."""
        from keyguard.secrets import call  # noqa: PLC0415 - hvac and boto3 load only for the backends that use them

        try:
            response: Any = call(
                f"reading {self.address}",
                lambda: self._client.get_secret_value(SecretId=self.secret_id, **extra),
            )
        except NotFound:
            return None
        return dict(response)

    def _stages(self) -> dict[str, list[str]]:
        from keyguard.secrets import call  # noqa: PLC0415 - hvac and boto3 load only for the backends that use them

        response = call(
            f"describing {self.address}",
            lambda: self._client.describe_secret(SecretId=self.secret_id),
        )
        return {k: list(v) for k, v in response.get("VersionIdsToStages", {}).items()}

    def __repr__(self) -> str:
        return f"AwsTarget({self.address!r})"


def _version_id(token: str) -> str:
    """The AWS version id of a delivery: its 32-hex-digit id written as a UUID."""
    return str(uuid.UUID(hex=token))


def _value(raw: object) -> SecretValue | None:
    return SecretValue(raw) if isinstance(raw, str) and raw else None


def _json_object(text: str | None) -> dict[str, Any]:
    try:
        document = json.loads(text or "{}")
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise InvalidInput("the secret does not hold a JSON object", code="invalid_secret_format")
    return document
