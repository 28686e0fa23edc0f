"""IP databases: country and ASN of an address, added to usage events where they are written."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from keyguard.errors import ConfigurationError
from keyguard.runtime import Runtime
from keyguard.settings import Settings
from keyguard.usage import IpLocator, Location, UsageEvent, UsageRecord, UsageWriter
from tests.conftest import START
from tests.usage_support import asn_db, country_db


@pytest.fixture
def locator(tmp_path: Path) -> IpLocator:
    return IpLocator(country_db(tmp_path / "country.mmdb"), asn_db(tmp_path / "asn.mmdb"))


def _record(ip: str | None, **fields: object) -> UsageRecord:
    return UsageRecord(
        ts=START, method="GET", path="/v1/keys", outcome="ok", status=200, ip=ip, **fields
    )  # type: ignore[arg-type]


def test_an_address_gets_its_country_and_autonomous_system(locator: IpLocator) -> None:
    assert locator.locate("203.0.113.7") == Location("NL", 64500)
    assert locator.locate("2001:db8::1") == Location("DE", 64502)


def test_an_address_in_neither_database_has_no_location(locator: IpLocator) -> None:
    assert locator.locate("10.1.2.3") == Location(None, None)
    assert locator.locate("not an address") == Location(None, None)


def test_one_database_alone_gives_what_it_holds(tmp_path: Path) -> None:
    only_asn = IpLocator(asn_db=asn_db(tmp_path / "asn.mmdb"))
    assert only_asn.locate("198.51.100.9") == Location(None, 64501)


def test_no_database_configured_means_no_locator() -> None:
    assert IpLocator.open(None, None) is None


def test_a_file_that_is_not_a_database_is_a_configuration_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.mmdb"
    bogus.write_bytes(b"not a maxmind database")
    with pytest.raises(ConfigurationError, match="KEYGUARD_GEOIP_DB"):
        IpLocator(bogus)
    with pytest.raises(ConfigurationError, match="KEYGUARD_ASN_DB"):
        IpLocator(asn_db=tmp_path / "missing.mmdb")


def test_enrich_leaves_records_without_address_or_already_located(locator: IpLocator) -> None:
    records = [_record("203.0.113.7"), _record(None), _record("198.51.100.1", geo="FR")]
    locator.enrich(records)
    assert [(r.geo, r.asn) for r in records] == [("NL", 64500), (None, None), ("FR", None)]


def test_the_writer_stores_geo_and_asn_of_its_batch(runtime: Runtime, locator: IpLocator) -> None:
    writer = UsageWriter(runtime.sessions, locator=locator)
    writer.submit(_record("203.0.113.7"))  # the plain fast path
    writer.submit(_record("2001:db8::5", recipients=2))  # the path with optional columns
    writer.submit(_record("10.0.0.1"))
    writer.flush()
    with runtime.sessions() as session:
        rows = session.scalars(select(UsageEvent).order_by(UsageEvent.id)).all()
        assert [(r.geo, r.asn) for r in rows] == [("NL", 64500), ("DE", 64502), (None, None)]
        assert rows[0].to_json()["geo"] == "NL"
        assert rows[0].to_json()["asn"] == 64500
        assert "geo" not in rows[2].to_json()


def test_the_runtime_builds_the_locator_from_settings(settings: Settings, tmp_path: Path) -> None:
    configured = settings.model_copy(
        update={"geoip_db": country_db(tmp_path / "c.mmdb"), "asn_db": asn_db(tmp_path / "a.mmdb")}
    )
    runtime = Runtime.build(configured)
    try:
        assert runtime.locator is not None
        assert runtime.locator.locate("198.51.100.20") == Location("US", 64501)
    finally:
        runtime.close()
