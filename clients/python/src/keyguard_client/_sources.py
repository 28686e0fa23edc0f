"""Where keys are read from: env:, file:, openbao: (extra `vault`) and aws: (extra `aws`).

hvac and boto3 are imported when such a source is loaded, never before, so an application
that reads its key from the environment installs and imports neither.
"""

from __future__ import annotations

import ipaddress
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from keyguard_client.errors import KeySourceError

DEFAULT_FIELD: Final = "key"
_TRUTHY: Final = {"1", "t", "true", "yes", "y", "on"}
_UNSAFE_BITS: Final = (
    (stat.S_IRGRP, "readable by its group"),
    (stat.S_IROTH, "readable by everyone"),
    (stat.S_IWGRP, "writable by its group"),
    (stat.S_IWOTH, "writable by everyone"),
)

Reader = Callable[[], str]


def _invalid(message: str) -> KeySourceError:
    return KeySourceError(message, code="key_source_invalid")


def _missing(message: str) -> KeySourceError:
    return KeySourceError(message, code="key_not_found")


def _unavailable(message: str) -> KeySourceError:
    return KeySourceError(message, code="key_source_unavailable")


def reader_for(source: str) -> Reader:
    scheme, sep, rest = source.partition(":")
    if not sep or not rest:
        raise _invalid(f"key source {source!r} must read scheme:location")
    readers: dict[str, Callable[[str], Reader]] = {
        "env": env_reader,
        "file": file_reader,
        "openbao": openbao_reader,
        "aws": aws_reader,
    }
    if scheme not in readers:
        raise _invalid(f"unknown key source {scheme!r}: use env:, file:, openbao: or aws:")
    return readers[scheme](rest)


def env_reader(variable: str) -> Reader:
    def read() -> str:
        value = os.environ.get(variable)
        if not value:
            raise _missing(f"environment variable {variable} is not set")
        return value

    return read


def file_reader(path: str) -> Reader:
    return lambda: read_private_file(Path(path)).removesuffix("\n").removesuffix("\r")


def read_private_file(path: Path) -> str:
    """The text of `path`, which must be a regular file only its owner may read or write.

    The mode is checked on the open descriptor, so the file cannot be swapped in between.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise _missing(f"no key file {path}") from None
    except OSError as exc:
        raise _unavailable(f"cannot open key file {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _unavailable(f"key file {path} is not a regular file")
        problems = [why for bit, why in _UNSAFE_BITS if info.st_mode & bit]
        if problems:
            raise KeySourceError(
                f"refusing key file {path}: its mode {stat.S_IMODE(info.st_mode):04o} makes it "
                f"{' and '.join(problems)} (chmod 600 {path})",
                code="key_source_unsafe",
            )
        with os.fdopen(os.dup(fd), "rb") as handle:
            return handle.read().decode("utf-8")
    finally:
        os.close(fd)


# -- OpenBao / Vault ---------------------------------------------------------------------------


def _first_env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def _check_address(address: str) -> None:
    """Refuse addresses that would send the token in clear text over a network."""
    parts = urlsplit(address)
    host = parts.hostname or ""
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and (host == "localhost" or _is_loopback(host)):
        return
    raise _invalid(
        f"OpenBao address {address!r} must use https (plain http only on loopback, where the "
        "token never crosses a network)"
    )


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def openbao_reader(location: str) -> Reader:
    where, _, field = location.partition("#")
    mount, _, path = where.strip("/").partition("/")
    if not mount or not path:
        raise _invalid(f"openbao key source needs MOUNT/PATH, not {where!r}")
    client = _openbao_client()

    def read() -> str:
        data = _vault_call(
            client,
            lambda: client.secrets.kv.v2.read_secret_version(
                path=path, mount_point=mount, raise_on_deleted_version=True
            ),
            f"{mount}/{path}",
        )
        value = data["data"]["data"].get(field or DEFAULT_FIELD)
        if not isinstance(value, str) or not value:
            raise _missing(f"OpenBao secret {mount}/{path} has no field {field or DEFAULT_FIELD!r}")
        return value

    return read


def _openbao_client() -> Any:
    try:
        import hvac  # noqa: PLC0415 - only applications that read keys from a vault load hvac
    except ImportError:
        raise _unavailable(
            "openbao: key sources need hvac: pip install 'keyguard-client[vault]'"
        ) from None
    address = _first_env("BAO_ADDR", "VAULT_ADDR")
    if not address:
        raise _unavailable("openbao: key sources need BAO_ADDR (or VAULT_ADDR)")
    _check_address(address)
    if (_first_env("BAO_SKIP_VERIFY", "VAULT_SKIP_VERIFY") or "").strip().lower() in _TRUTHY:
        raise _invalid(
            "BAO_SKIP_VERIFY/VAULT_SKIP_VERIFY is set: TLS verification is never turned off; "
            "give the CA in KEYGUARD_OPENBAO_CA_BUNDLE (or BAO_CACERT)"
        )
    ca = _first_env("KEYGUARD_OPENBAO_CA_BUNDLE", "BAO_CACERT", "VAULT_CACERT")
    # An empty token stops hvac from reading ~/.vault-token behind our back.
    client = hvac.Client(
        url=address,
        token="",
        verify=ca or True,
        timeout=5,
        namespace=_first_env("BAO_NAMESPACE", "VAULT_NAMESPACE"),
    )
    role_id, secret_id = _first_env("KEYGUARD_OPENBAO_ROLE_ID"), None
    if role_id:
        secret_id = _first_env("KEYGUARD_OPENBAO_SECRET_ID")
        if not secret_id:
            raise _unavailable(
                "KEYGUARD_OPENBAO_ROLE_ID is set but KEYGUARD_OPENBAO_SECRET_ID is not"
            )
        mount = _first_env("KEYGUARD_OPENBAO_APPROLE_MOUNT") or "approle"
        _vault_call(
            client,
            lambda: client.auth.approle.login(
                role_id=role_id, secret_id=secret_id, mount_point=mount, use_token=True
            ),
            f"auth/{mount}/login",
        )
        return client
    token = _first_env("BAO_TOKEN", "VAULT_TOKEN")
    if not token:
        raise _unavailable(
            "openbao: key sources need BAO_TOKEN (or VAULT_TOKEN), or AppRole credentials in "
            "KEYGUARD_OPENBAO_ROLE_ID and KEYGUARD_OPENBAO_SECRET_ID"
        )
    client.token = token
    return client


def _vault_call(client: Any, request: Callable[[], Any], where: str) -> Any:
    import hvac.exceptions  # noqa: PLC0415 - loaded with hvac, see above
    import requests  # noqa: PLC0415 - hvac's transport

    try:
        return request()
    except hvac.exceptions.InvalidPath:
        raise _missing(f"OpenBao has no secret at {where}") from None
    except (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized):
        raise _unavailable(
            f"OpenBao denied reading {where}: check the token and its policy"
        ) from None
    except (hvac.exceptions.VaultError, requests.exceptions.RequestException) as exc:
        raise _unavailable(
            f"OpenBao at {client.url} failed reading {where}: {type(exc).__name__}"
        ) from None


# -- AWS Secrets Manager -----------------------------------------------------------------------


def aws_reader(location: str) -> Reader:
    try:
        import boto3  # noqa: PLC0415 - only applications that read keys from AWS load boto3
        import botocore.exceptions  # noqa: PLC0415
    except ImportError:
        raise _unavailable(
            "aws: key sources need boto3: pip install 'keyguard-client[aws]'"
        ) from None
    secret_id, _, field = location.partition("#")
    client: Any = boto3.session.Session().client("secretsmanager")

    def read() -> str:
        try:
            # AWSCURRENT is AWS's default; named, because moto ignores a moved label otherwise.
            response = client.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")
        except botocore.exceptions.ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
            if code == "ResourceNotFoundException":
                raise _missing(f"AWS has no secret {secret_id!r}") from None
            raise _unavailable(f"AWS refused reading secret {secret_id!r}: {code}") from None
        except botocore.exceptions.BotoCoreError as exc:
            raise _unavailable(f"cannot read secret {secret_id!r}: {type(exc).__name__}") from None
        text = response.get("SecretString")
        if not isinstance(text, str):
            raise _invalid(f"secret {secret_id!r} holds binary data, not a key")
        if not field:
            return text
        try:
            return str(json.loads(text)[field])
        except (ValueError, KeyError, TypeError):
            raise _missing(f"secret {secret_id!r} has no JSON field {field!r}") from None

    return read
