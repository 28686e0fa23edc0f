"""`keyguard secrets rewrap`: moves stored secrets to the current wrapping key, resumably."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from keyguard.clock import ManualClock
from keyguard.secrets.interfaces import KeyWrapper
from keyguard.secrets.local import LocalKeyWrapper
from keyguard.secrets.models import StoredSecret
from keyguard.secrets.service import open_stored, wrapper_key_usage
from keyguard.storage.base import Base
from tests.functional.secrets.runner import clean_env, run, run_process
from tests.unit.secrets.conftest import Bao
from tests.unit.secrets.factories import stored_secrets

ROWS = 50


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


@pytest.fixture
def database(data_dir: Path) -> sessionmaker[Session]:
    """The default database of the data directory, with the stored_secrets table."""
    engine = create_engine(f"sqlite:///{data_dir / 'keyguard.db'}")
    Base.metadata.create_all(engine, tables=[StoredSecret.__table__])  # type: ignore[list-item]
    yield sessionmaker(engine)  # type: ignore[misc]
    engine.dispose()


def _seed(sessions: sessionmaker[Session], wrapper: KeyWrapper, clock: ManualClock) -> None:
    with sessions.begin() as session:
        stored_secrets(session, wrapper, ROWS, clock)


def _usage(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        return {key_id: n for (_, key_id), n in wrapper_key_usage(session).items()}


def _all_open(sessions: sessionmaker[Session], wrapper: KeyWrapper) -> bool:
    with sessions() as session:
        rows = session.query(StoredSecret).all()
        return (
            all(
                open_stored(wrapper, row).reveal() == f"whsec-{row.name.removeprefix('hook-')}"
                for row in rows
            )
            and len(rows) == ROWS
        )


def test_rewrap_moves_every_secret_to_the_rotated_master_key(
    data_dir: Path, database: sessionmaker[Session], clock: ManualClock
) -> None:
    wrapper = LocalKeyWrapper.open(data_dir / "master.key", create=True)
    _seed(database, wrapper, clock)
    new_id = wrapper.rotate()
    outcome = run(
        "rewrap", "--json", "--batch-size", "20", env={"KEYGUARD_DATA_DIR": str(data_dir)}
    )
    assert outcome.returncode == 0, outcome.stderr
    assert json.loads(outcome.stdout) == {
        "batches": 3,
        "key_id": new_id,
        "other_wrapper": 0,
        "rewrapped": ROWS,
    }
    assert _usage(database) == {new_id: ROWS}
    assert _all_open(database, wrapper)


def test_rewrap_uses_the_database_url_option(
    data_dir: Path, database: sessionmaker[Session], clock: ManualClock, tmp_path: Path
) -> None:
    wrapper = LocalKeyWrapper.open(data_dir / "master.key", create=True)
    _seed(database, wrapper, clock)
    wrapper.rotate()
    env = {
        "KEYGUARD_DATA_DIR": str(tmp_path / "elsewhere"),
        "KEYGUARD_MASTER_KEY_FILE": str(data_dir / "master.key"),
    }
    url = f"sqlite:///{data_dir / 'keyguard.db'}"
    outcome = run("rewrap", "--database-url", url, env=env)
    assert outcome.returncode == 0, outcome.stderr
    assert f"rewrapped {ROWS} stored secret(s)" in outcome.stdout


def test_rewrap_on_openbao_transit_after_a_key_rotation(
    bao: Bao, data_dir: Path, database: sessionmaker[Session], clock: ManualClock
) -> None:
    _seed(database, bao.wrapper, clock)
    bao.rotate_transit_key()
    env = {
        "KEYGUARD_DATA_DIR": str(data_dir),
        "KEYGUARD_SECRETS_BACKEND": "openbao",
        "BAO_ADDR": bao.server.address,
        "BAO_TOKEN": bao.server.root_token,
        "KEYGUARD_OPENBAO_TRANSIT_KEY": bao.wrapper.key,
    }
    outcome = run_process("rewrap", "--json", env=env)
    assert outcome.returncode == 0, outcome.stderr
    assert json.loads(outcome.stdout)["rewrapped"] == ROWS
    assert _usage(database) == {f"transit/{bao.wrapper.key}:v2": ROWS}
    assert _all_open(database, bao.wrapper)


def test_rewrap_without_the_table_is_a_clear_error(data_dir: Path) -> None:
    LocalKeyWrapper.open(data_dir / "master.key", create=True)
    outcome = run("rewrap", env={"KEYGUARD_DATA_DIR": str(data_dir)})
    assert outcome.returncode == 2
    assert "database error" in outcome.stderr
    assert "Traceback" not in outcome.stderr


def test_rewrap_with_a_misconfigured_wrapper_exits_2(data_dir: Path) -> None:
    env = {"KEYGUARD_DATA_DIR": str(data_dir), "KEYGUARD_SECRETS_BACKEND": "openbao"}
    outcome = run("rewrap", env=env)
    assert outcome.returncode == 2
    assert "BAO_ADDR" in outcome.stderr


_PAUSING_REWRAP = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker
    from keyguard.clock import system_clock
    from keyguard.secrets.local import LocalKeyWrapper
    from keyguard.secrets.service import rewrap_all

    class PausingWrapper(LocalKeyWrapper):
        calls = 0

        def rewrap(self, items):
            PausingWrapper.calls += 1
            if PausingWrapper.calls == 3:  # two batches are committed
                print("paused", flush=True)
                sys.stdin.readline()  # blocks until the test kills the process
            return super().rewrap(items)

    url, master = sys.argv[1], Path(sys.argv[2])
    rewrap_all(sessionmaker(create_engine(url)), PausingWrapper(master),
               clock=system_clock, batch_size=10)
    """
)


def test_a_rewrap_killed_half_way_leaves_every_secret_readable_and_resumes(
    data_dir: Path, database: sessionmaker[Session], clock: ManualClock
) -> None:
    wrapper = LocalKeyWrapper.open(data_dir / "master.key", create=True)
    _seed(database, wrapper, clock)
    old_id, new_id = wrapper.key_id, wrapper.rotate()
    url = f"sqlite:///{data_dir / 'keyguard.db'}"
    env = {k: v for k, v in clean_env({}).items() if v is not None}
    with subprocess.Popen(
        [sys.executable, "-c", _PAUSING_REWRAP, url, str(data_dir / "master.key")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, **env},
    ) as process:
        assert process.stdout is not None
        assert process.stdout.readline() == b"paused\n"
        process.send_signal(signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL

    assert _usage(database) == {new_id: 20, old_id: ROWS - 20}
    assert _all_open(database, wrapper)

    outcome = run("rewrap", "--json", env={"KEYGUARD_DATA_DIR": str(data_dir)})
    assert json.loads(outcome.stdout)["rewrapped"] == ROWS - 20
    assert _usage(database) == {new_id: ROWS}
