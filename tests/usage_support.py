"""Test helpers for usage history: small MaxMind-format databases built with mmdb-writer."""

from __future__ import annotations

from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

# Documentation and private ranges: addresses are opaque, these are networks like any other.
# Loopback too: the test clients connect from 127.0.0.1.
COUNTRIES = {
    "203.0.113.0/24": "NL",
    "198.51.100.0/24": "US",
    "2001:db8::/32": "DE",
    "127.0.0.0/8": "IS",
}
ASNS = {"203.0.113.0/24": 64500, "198.51.100.0/24": 64501, "2001:db8::/32": 64502}
ASNS["127.0.0.0/8"] = 64512


def country_db(path: Path, countries: dict[str, str] = COUNTRIES) -> Path:
    """A GeoLite2-Country-shaped file: `country.iso_code`."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-Country")
    for cidr, code in countries.items():
        writer.insert_network(IPSet([cidr]), {"country": {"iso_code": code}})
    writer.to_db_file(str(path))
    return path


def asn_db(path: Path, asns: dict[str, int] = ASNS) -> Path:
    """A GeoLite2-ASN-shaped file: `autonomous_system_number`."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-ASN")
    for cidr, number in asns.items():
        writer.insert_network(
            IPSet([cidr]),
            {"autonomous_system_number": number, "autonomous_system_organization": "Example"},
        )
    writer.to_db_file(str(path))
    return path
