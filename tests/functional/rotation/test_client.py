"""keyguard_client against a real HTTP server: after a delivered rotation, a `key_rotated`
answer or the grace deadline makes the client read the successor from OpenBao."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from keyguard_client import ClientKey, Keyguard, KeyRotated, load_key

from keyguard.api import create_app
from keyguard.clock import ManualClock
from keyguard.lifecycle.service import KeySpec
from keyguard.lifecycle.tenants import DEFAULT_TENANT
from keyguard.lifecycle.views import OPERATOR
from keyguard.rotation.delivery import Targets
from keyguard.rotation.service import Delivered, RotationService
from keyguard.runtime import Runtime
from tests.functional.api.servers import ThreadServer
from tests.unit.secrets.conftest import Bao

SPEC = KeySpec(DEFAULT_TENANT, "live", ["keys:read"])


@pytest.fixture
def server(runtime: Runtime) -> Iterator[ThreadServer]:
    started = ThreadServer(create_app(runtime)).start()
    yield started
    started.stop()


@pytest.fixture
def rotation(
    runtime: Runtime, clock: ManualClock, bao: Bao, monkeypatch: pytest.MonkeyPatch
) -> RotationService:
    # The application reads its key with its own OpenBao credentials (here the same server).
    monkeypatch.setenv("BAO_ADDR", bao.server.address)
    monkeypatch.setenv("BAO_TOKEN", bao.server.root_token)
    connection = bao.connection
    return RotationService(
        runtime.sessions, runtime.keys, runtime.peppers, clock, Targets(openbao=lambda: connection)
    )


def _call(server: ThreadServer, key: ClientKey) -> httpx.Response:
    return httpx.get(
        f"{server.url}/v1/keys", headers={"Authorization": f"Bearer {key.reveal()}"}, timeout=30
    )


def _delivered(rotation: RotationService) -> tuple[Delivered, str]:
    address = f"openbao:secret/apps/client-{secrets.token_hex(4)}"
    return rotation.create_delivered(OPERATOR, SPEC, address), address


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_key_rotated_answer_makes_the_client_read_the_successor(
    server: ThreadServer, rotation: RotationService, clock: ManualClock
) -> None:
    created, address = _delivered(rotation)
    key = load_key(address, clock=clock)
    assert _call(server, key).status_code == 200
    rotation.rotate_delivered(OPERATOR, created.key.id, grace=timedelta(0))
    refused = _call(server, key)
    assert refused.status_code == 401 and refused.json()["code"] == "key_rotated"
    assert key.refresh_if_rotated(refused.status_code, refused.content) is True
    assert _call(server, key).status_code == 200
    # The same answer again reads the same key: False, so a caller that retries cannot loop.
    assert key.refresh_if_rotated(refused.status_code, refused.content) is False


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_client_reads_the_successor_at_the_grace_deadline(
    server: ThreadServer, rotation: RotationService, clock: ManualClock
) -> None:
    created, address = _delivered(rotation)
    key = load_key(address, clock=clock, max_age=None)
    old = key.reveal()
    rotated = rotation.rotate_delivered(OPERATOR, created.key.id, grace=timedelta(hours=1))
    assert rotated.replaced is not None and rotated.replaced.grace_until is not None
    key.refresh_by(rotated.replaced.grace_until)
    clock.advance(timedelta(minutes=59))
    assert key.reveal() == old and _call(server, key).status_code == 200  # still in grace
    clock.advance(timedelta(minutes=1))
    assert key.reveal() != old  # read again at the deadline
    assert _call(server, key).status_code == 200


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_client_refreshes_its_key_from_openbao_by_itself(
    server: ThreadServer, rotation: RotationService, clock: ManualClock
) -> None:
    """No code of the application's: the client sees key_rotated, reads OpenBao, retries."""
    created, address = _delivered(rotation)
    with Keyguard(load_key(address, clock=clock), base_url=server.url) as client:
        assert client.keys.page().items
        rotation.rotate_delivered(OPERATOR, created.key.id, grace=timedelta(0))
        assert client.keys.page().items  # answered with the successor


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_client_raises_key_rotated_while_openbao_still_holds_the_old_key(
    server: ThreadServer, runtime: Runtime, rotation: RotationService, clock: ManualClock
) -> None:
    created, address = _delivered(rotation)
    with Keyguard(load_key(address, clock=clock), base_url=server.url) as client:
        # Rotated outside the delivery: the vault is never told of the successor.
        runtime.keys.rotate(OPERATOR, created.key.id, grace=timedelta(0))
        with pytest.raises(KeyRotated):
            client.keys.page()
