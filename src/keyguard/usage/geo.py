"""Country and autonomous system of a client address, from MaxMind-format IP databases.

GeoLite2 and DB-IP Lite files (Country or City; ASN) are read with `maxminddb`, memory-mapped,
through its C extension when installed. One `IpLocator` is built per process (runtime) and
applied where usage events are written in batches (the usage writer's thread), so it never
adds work to verification; a request path that writes its own event (the mail send) asks
it once per request, or once per SMTP connection. Answers are cached per address.

Addresses are opaque: a private or documentation address is looked up like any other, and
simply has no answer in the public databases.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import maxminddb

from keyguard.errors import ConfigurationError
from keyguard.usage.records import UsageRecord

CACHED_ADDRESSES: Final = 65_536


@dataclass(frozen=True, slots=True)
class Location:
    geo: str | None = None  # ISO 3166-1 alpha-2
    asn: int | None = None


NOWHERE: Final = Location()


class IpLocator:
    """`locate(ip)` from a country database, an ASN database, or one file holding both."""

    def __init__(self, geoip_db: Path | None = None, asn_db: Path | None = None) -> None:
        self._country = _open(geoip_db, "KEYGUARD_GEOIP_DB")
        self._asn = self._country if asn_db == geoip_db else _open(asn_db, "KEYGUARD_ASN_DB")
        self.locate = functools.lru_cache(maxsize=CACHED_ADDRESSES)(self._locate)

    @classmethod
    def open(cls, geoip_db: Path | None, asn_db: Path | None) -> IpLocator | None:
        """The locator, or None when no database is configured."""
        if geoip_db is None and asn_db is None:
            return None
        return cls(geoip_db, asn_db)

    def enrich(self, records: Iterable[UsageRecord]) -> None:
        """Fill in `geo` and `asn` of the records that have an address and neither yet."""
        for record in records:
            if record.ip is not None and record.geo is None and record.asn is None:
                found = self.locate(record.ip)
                record.geo, record.asn = found.geo, found.asn

    def close(self) -> None:
        for reader in {id(r): r for r in (self._country, self._asn) if r is not None}.values():
            reader.close()

    def _locate(self, ip: str) -> Location:
        geo = _country_of(_get(self._country, ip))
        asn = _asn_of(_get(self._asn, ip))
        return NOWHERE if geo is None and asn is None else Location(geo, asn)


def _open(path: Path | None, setting: str) -> maxminddb.Reader | None:
    if path is None:
        return None
    try:
        return maxminddb.open_database(str(path))
    except (OSError, maxminddb.InvalidDatabaseError) as exc:
        raise ConfigurationError(
            f"{setting}={path} is not a readable MaxMind-format database ({type(exc).__name__})"
        ) from None


def _get(reader: maxminddb.Reader | None, ip: str) -> Any:
    if reader is None:
        return None
    try:
        return reader.get(ip)
    except ValueError:  # not an address (a test client's name, say): no location
        return None


def _country_of(record: Any) -> str | None:
    """GeoLite2/DB-IP: `country.iso_code` (else `registered_country`); flat files: `country_code`
    or a plain `country` string."""
    if not isinstance(record, Mapping):
        return None
    for name in ("country", "registered_country"):
        value = record.get(name)
        if isinstance(value, Mapping) and isinstance(value.get("iso_code"), str):
            return str(value["iso_code"]).upper()[:8]
        if isinstance(value, str) and value:
            return value.upper()[:8]
    code = record.get("country_code")
    return code.upper()[:8] if isinstance(code, str) and code else None


def _asn_of(record: Any) -> int | None:
    """`autonomous_system_number` (GeoLite2-ASN, DB-IP ASN Lite), or `asn` as 64500 or "AS64500"."""
    if not isinstance(record, Mapping):
        return None
    value = record.get("autonomous_system_number", record.get("asn"))
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.upper().removeprefix("AS").isdigit():
        return int(value.upper().removeprefix("AS"))
    return None
