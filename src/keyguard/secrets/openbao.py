"""OpenBao (or Vault): KV v2 holds secrets, Transit wraps data keys; token or AppRole auth.

TLS verification is always on: `ca_bundle` names a CA file for private CAs, and there is no
switch to turn verification off. Plain http is accepted only on loopback addresses (a dev
server or a local agent), where no network sits between Keyguard and OpenBao.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final, TypeVar
from urllib.parse import urlsplit

import hvac
import hvac.exceptions
import requests

from keyguard.errors import ConfigurationError, InvalidInput, NotFound
from keyguard.secrets.interfaces import SecretValue, SecretVersion, WrappedKey, validate_name

log = logging.getLogger(__name__)

T = TypeVar("T")

TRANSIT_KIND: Final = "openbao-transit"
# OpenBao refuses request bodies of more than 1000 JSON strings by default
# (max_request_json_strings); each batch item costs two, so stay well below.
DEFAULT_BATCH_SIZE: Final = 250
# Transit ciphertexts read "vault:v<version>:<base64>" (OpenBao keeps Vault's prefix).
_CIPHERTEXT = re.compile(r"[a-z]+:v(\d+):[A-Za-z0-9+/=]+")
_FRACTION = re.compile(r"\.\d+")
_KEY_ID = re.compile(r"(?P<mount>.+)/(?P<name>[^/:]+):v(?P<version>\d+)")


@dataclass(frozen=True)
class TokenAuth:
    token: SecretValue


@dataclass(frozen=True)
class AppRoleAuth:
    role_id: str
    secret_id: SecretValue = field(repr=False)
    mount: str = "approle"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_address(address: str) -> None:
    """Refuse addresses that would send the token in clear text over a network."""
    parts = urlsplit(address)
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and _is_loopback(parts.hostname or ""):
        return
    raise ConfigurationError(
        f"OpenBao address {address!r} must use https (plain http is accepted on loopback "
        "only, where the token never crosses a network)"
    )


class _Denied(ConfigurationError):
    """OpenBao refused our token: an AppRole connection logs in again once and retries."""


class OpenBaoConnection:
    """An authenticated hvac client that maps failures onto Keyguard's error tree."""

    def __init__(
        self,
        address: str,
        auth: TokenAuth | AppRoleAuth,
        *,
        ca_bundle: Path | None = None,
        namespace: str | None = None,
        timeout: int = 5,
    ) -> None:
        check_address(address)
        if ca_bundle is not None and not ca_bundle.is_file():
            raise ConfigurationError(f"OpenBao CA bundle {ca_bundle} does not exist")
        self.address = address
        self._auth = auth
        # Verification is on, against the system CAs or the bundle given: never False.
        self.verify: bool | str = str(ca_bundle) if ca_bundle is not None else True
        # hvac is untyped; an empty token stops it from reading ~/.vault-token behind our back.
        self._client: Any = hvac.Client(
            url=address, token="", verify=self.verify, timeout=timeout, namespace=namespace
        )
        self._logged_in = False

    @property
    def session_verify(self) -> bool | str:
        """What the HTTP session actually verifies against (for `secrets check` and tests)."""
        verify: bool | str = self._client.adapter.session.verify
        return verify

    def call(self, operation: str, request: Callable[[Any], T]) -> T:
        """Run `request(client)`, logging in first and once more if the token was refused."""
        self._login_if_needed(operation)
        try:
            return self._mapped(operation, request)
        except _Denied:
            if not isinstance(self._auth, AppRoleAuth):
                raise
        # The AppRole token expired or was revoked: a fresh login is what AppRole is for.
        log.info("secrets.openbao.relogin", extra={"operation": operation})
        self._logged_in = False
        self._login_if_needed(operation)
        return self._mapped(operation, request)

    def health(self) -> None:
        """Reachable, unsealed, and our token is accepted."""
        status = self._mapped("read seal status", lambda c: c.sys.read_seal_status())
        if status.get("sealed"):
            raise ConfigurationError(f"OpenBao at {self.address} is sealed")
        self.call("look up our token", lambda c: c.auth.token.lookup_self())

    def _login_if_needed(self, operation: str) -> None:
        if self._logged_in:
            return
        if isinstance(self._auth, TokenAuth):
            self._client.token = self._auth.token.reveal()
        else:
            auth = self._auth
            try:
                self._mapped(
                    "AppRole login",
                    lambda c: c.auth.approle.login(
                        role_id=auth.role_id,
                        secret_id=auth.secret_id.reveal(),
                        mount_point=auth.mount,
                        use_token=True,
                    ),
                )
            except InvalidInput as exc:
                # OpenBao answers 400 to an unknown role or secret id: our settings are wrong.
                raise ConfigurationError(
                    f"OpenBao AppRole login at {auth.mount}/ failed ({exc.message}); check "
                    "KEYGUARD_OPENBAO_ROLE_ID and KEYGUARD_OPENBAO_SECRET_ID"
                ) from None
            log.info("secrets.openbao.approle_login", extra={"mount": auth.mount})
        self._logged_in = True

    def _mapped(self, operation: str, request: Callable[[Any], T]) -> T:
        try:
            return request(self._client)
        except requests.exceptions.SSLError:
            raise ConfigurationError(
                f"TLS verification of OpenBao at {self.address} failed during {operation}; "
                "if it uses a private CA, give its bundle in KEYGUARD_OPENBAO_CA_BUNDLE "
                "(or BAO_CACERT)"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise ConfigurationError(
                f"cannot reach OpenBao at {self.address} during {operation}: {type(exc).__name__}"
            ) from None
        except hvac.exceptions.InvalidPath:
            raise NotFound(f"OpenBao has nothing at the path for {operation}") from None
        except (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized):
            raise _Denied(
                f"OpenBao denied {operation}: check the token or AppRole credentials "
                "and the policy attached to them"
            ) from None
        except hvac.exceptions.InvalidRequest as exc:
            raise InvalidInput(
                f"OpenBao rejected {operation}: {_errors(exc)}", code="openbao_rejected"
            ) from None
        except (hvac.exceptions.VaultDown, hvac.exceptions.VaultNotInitialized):
            raise ConfigurationError(f"OpenBao at {self.address} is sealed or down") from None
        except hvac.exceptions.VaultError as exc:
            raise ConfigurationError(
                f"OpenBao failed {operation}: {type(exc).__name__}: {_errors(exc)}"
            ) from None

    def __repr__(self) -> str:
        return f"OpenBaoConnection(address={self.address!r}, auth={type(self._auth).__name__})"


def _errors(exc: hvac.exceptions.VaultError) -> str:
    errors = getattr(exc, "errors", None)
    return "; ".join(map(str, errors)) if errors else type(exc).__name__


class OpenBaoSecretProvider:
    """Secrets in a KV v2 mount, one field per secret (`value` unless told otherwise)."""

    kind = "openbao"

    def __init__(
        self,
        connection: OpenBaoConnection,
        *,
        mount: str = "secret",
        prefix: str = "keyguard",
        value_field: str = "value",
    ) -> None:
        self._connection = connection
        self.mount = mount
        self.prefix = prefix.strip("/")
        self.value_field = value_field

    def get(self, name: str, version: str | None = None) -> SecretValue:
        path = self._path(name)
        number = _version_number(name, version)
        try:
            response = self._connection.call(
                f"reading secret {name!r}",
                lambda c: c.secrets.kv.v2.read_secret_version(
                    path=path, version=number, mount_point=self.mount, raise_on_deleted_version=True
                ),
            )
        except NotFound:
            raise NotFound(
                f"no secret {name!r} (version {version or 'current'}) at {self.mount}/{path}"
            ) from None
        data = response["data"]
        return SecretValue(
            self._decode(name, data["data"]), version=str(data["metadata"]["version"])
        )

    def put(self, name: str, value: SecretValue) -> str:
        path = self._path(name)
        response = self._connection.call(
            f"writing secret {name!r}",
            lambda c: c.secrets.kv.v2.create_or_update_secret(
                path=path, secret=self._encode(value), mount_point=self.mount
            ),
        )
        version = str(response["data"]["version"])
        log.info("secrets.openbao.put", extra={"secret_name": name, "version": version})
        return version

    def versions(self, name: str) -> list[SecretVersion]:
        path = self._path(name)
        try:
            response = self._connection.call(
                f"listing versions of {name!r}",
                lambda c: c.secrets.kv.v2.read_secret_metadata(path=path, mount_point=self.mount),
            )
        except NotFound:
            raise NotFound(f"no secret {name!r} at {self.mount}/{path}") from None
        metadata = response["data"]
        current = str(metadata["current_version"])
        readable = [
            (int(number), info)
            for number, info in metadata["versions"].items()
            if not info.get("destroyed") and not info.get("deletion_time")
        ]
        return [
            SecretVersion(
                str(number),
                current=str(number) == current,
                created_at=_timestamp(info.get("created_time")),
            )
            for number, info in sorted(readable, key=lambda item: item[0])
        ]

    def retire(self, name: str, version: str) -> None:
        current = [v.id for v in self.versions(name) if v.current]
        if version in current:
            raise InvalidInput(
                f"version {version} is the current version of secret {name!r}",
                code="secret_version_current",
            )
        path, number = self._path(name), _version_number(name, version)
        # A soft delete: `versions` stops listing it, `bao kv undelete` brings it back.
        self._connection.call(
            f"retiring version {version} of {name!r}",
            lambda c: c.secrets.kv.v2.delete_secret_versions(
                path=path, versions=[number], mount_point=self.mount
            ),
        )
        log.info("secrets.openbao.retired", extra={"secret_name": name, "version": version})

    def health(self) -> None:
        self._connection.health()

    def _path(self, name: str) -> str:
        validate_name(name)
        return f"{self.prefix}/{name}" if self.prefix else name

    def _encode(self, value: SecretValue) -> dict[str, str]:
        if value.is_text():
            return {self.value_field: value.reveal()}
        encoded = base64.b64encode(value.reveal_bytes()).decode("ascii")
        return {self.value_field: encoded, "encoding": "base64"}

    def _decode(self, name: str, data: dict[str, Any]) -> bytes:
        raw = data.get(self.value_field)
        if not isinstance(raw, str):
            raise NotFound(f"secret {name!r} has no text field {self.value_field!r}")
        if data.get("encoding") == "base64":
            try:
                return base64.b64decode(raw, validate=True)
            except binascii.Error:
                raise InvalidInput(f"secret {name!r} is not valid base64") from None
        return raw.encode("utf-8")

    def __repr__(self) -> str:
        return f"OpenBaoSecretProvider(mount={self.mount!r}, prefix={self.prefix!r})"


def _version_number(name: str, version: str | None) -> int | None:
    if version is None:
        return None
    if not (version.isdigit() and version.isascii()):
        raise NotFound(f"secret {name!r} has no version {version!r}")
    return int(version)


def _timestamp(value: object) -> datetime | None:
    """OpenBao's RFC 3339 times carry nanoseconds; Python parses at most microseconds."""
    if not isinstance(value, str) or not value:
        return None
    trimmed = _FRACTION.sub(lambda m: m.group(0)[:7], value.replace("Z", "+00:00"))
    try:
        return datetime.fromisoformat(trimmed)
    except ValueError:
        return None


class TransitKeyWrapper:
    """Wraps data keys with a Transit key; the key id records the Transit key version.

    The data key travels to OpenBao to be wrapped or unwrapped, never the secret it protects;
    rewrapping happens inside OpenBao (`transit/rewrap`), so plaintext data keys never leave
    it during a rewrap.
    """

    kind = TRANSIT_KIND

    def __init__(
        self,
        connection: OpenBaoConnection,
        *,
        mount: str = "transit",
        key: str = "keyguard",
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        self._connection = connection
        self.mount = mount.strip("/")
        self.key = key
        self.batch_size = batch_size

    @property
    def key_id(self) -> str:
        response = self._call(
            "reading the Transit key",
            lambda c: c.secrets.transit.read_key(name=self.key, mount_point=self.mount),
        )
        return self._key_id(int(response["data"]["latest_version"]))

    def wrap(self, data_key: bytes) -> WrappedKey:
        return self.wrap_many([data_key])[0]

    def wrap_many(self, data_keys: Sequence[bytes]) -> list[WrappedKey]:
        """Wrap several data keys in batched requests (seeding, imports)."""
        inputs = [{"plaintext": _b64(key)} for key in data_keys]

        def send(batch: list[dict[str, str]], client: Any) -> Any:
            return client.secrets.transit.encrypt_data(
                name=self.key, batch_input=batch, mount_point=self.mount
            )

        return self._batched("wrapping", inputs, send)

    def unwrap(self, wrapped: bytes, key_id: str) -> bytes:
        ciphertext = self._checked_ciphertext(wrapped, key_id)
        try:
            response = self._call(
                "unwrapping a data key",
                lambda c: c.secrets.transit.decrypt_data(
                    name=self.key, ciphertext=ciphertext, mount_point=self.mount
                ),
            )
        except InvalidInput:
            raise InvalidInput(
                f"a data key wrapped under {key_id} does not authenticate",
                code="envelope_tampered",
            ) from None
        return base64.b64decode(response["data"]["plaintext"])

    def rewrap(self, items: Sequence[WrappedKey]) -> list[WrappedKey]:
        inputs = [{"ciphertext": self._checked_ciphertext(i.ciphertext, i.key_id)} for i in items]

        def send(batch: list[dict[str, str]], client: Any) -> Any:
            # Transit rewraps inside OpenBao: the plaintext data keys never come out.
            return client.secrets.transit.rewrap_data(
                name=self.key, ciphertext=None, batch_input=batch, mount_point=self.mount
            )

        return self._batched("rewrapping", inputs, send)

    def health(self) -> None:
        self._connection.health()
        try:
            self.key_id  # noqa: B018 - reading it is the check
        except NotFound:
            raise ConfigurationError(
                f"Transit key {self.key!r} does not exist under {self.mount}/: create it with "
                f"`bao write -f {self.mount}/keys/{self.key}`"
            ) from None
        probe = bytes(32)
        wrapped = self.wrap(probe)
        if self.unwrap(wrapped.ciphertext, wrapped.key_id) != probe:
            raise ConfigurationError(f"Transit key {self.key!r} does not round-trip")

    def ensure_key(self) -> None:
        """Create the Transit key if it is missing (dev servers, tests, benchmarks)."""
        self._call(
            "creating the Transit key",
            lambda c: c.secrets.transit.create_key(name=self.key, mount_point=self.mount),
        )

    def _key_id(self, version: int) -> str:
        return f"{self.mount}/{self.key}:v{version}"

    def _checked_ciphertext(self, wrapped: bytes, key_id: str) -> str:
        match = _KEY_ID.fullmatch(key_id)
        if match is None or (match["mount"], match["name"]) != (self.mount, self.key):
            raise ConfigurationError(
                f"data key was wrapped by {key_id!r}, not by Transit key "
                f"{self.mount}/{self.key}; configure the wrapper that wrapped it"
            )
        ciphertext = wrapped.decode("ascii", errors="replace")
        found = _CIPHERTEXT.fullmatch(ciphertext)
        if found is None or found[1] != match["version"]:
            raise InvalidInput(
                f"a data key recorded as wrapped under {key_id} is not a matching Transit "
                "ciphertext",
                code="envelope_tampered",
            )
        return ciphertext

    def _batched(
        self,
        action: str,
        inputs: list[dict[str, str]],
        send: Callable[[list[dict[str, str]], Any], Any],
    ) -> list[WrappedKey]:
        results: list[WrappedKey] = []
        for start in range(0, len(inputs), self.batch_size):
            request = functools.partial(send, inputs[start : start + self.batch_size])
            response = self._call(f"{action} data keys", request)
            results.extend(self._results(response, action))
        return results

    def _results(self, response: Any, action: str) -> list[WrappedKey]:
        results: list[WrappedKey] = []
        for item in response["data"]["batch_results"]:
            if item.get("error"):
                raise InvalidInput(
                    f"OpenBao failed {action} a data key: {item['error']}",
                    code="envelope_tampered",
                )
            ciphertext = str(item["ciphertext"])
            found = _CIPHERTEXT.fullmatch(ciphertext)
            if found is None:
                raise ConfigurationError("OpenBao returned a Transit ciphertext of unknown form")
            results.append(WrappedKey(self._key_id(int(found[1])), ciphertext.encode("ascii")))
        return results

    def _call(self, operation: str, request: Callable[[Any], T]) -> T:
        return self._connection.call(operation, request)

    def __repr__(self) -> str:
        return f"TransitKeyWrapper(mount={self.mount!r}, key={self.key!r})"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
