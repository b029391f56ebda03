"""The hash-chained, append-only audit log and ``gatehouse-hub audit verify``."""

from __future__ import annotations

import argparse
import io
import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError

from hub.auth import audit
from hub.auth.cli import Console, cmd_audit_verify
from hub.auth.models import GENESIS_HASH, AuditEntry
from hub.auth.permissions import Actor, Role
from hub.db import get_database

ACTOR = Actor(7, "mjohnson", Role.PRINCIPAL, frozenset({"hs-1"}))


def _fill(app, clock, n: int = 5) -> None:
    with get_database(app).session() as s:
        for i in range(n):
            clock.advance(seconds=1)
            audit.record(s, ACTOR, "credential.issue", "hs-1", {"holder": None},
                         {"holder": f"staff-{i}", "key": "A-12", "at": clock.now()},
                         target=f"key:{i}", now=clock.now())


def _verify_cli(app) -> tuple[int, str]:
    out = io.StringIO()
    status = cmd_audit_verify(app, argparse.Namespace(console=Console(out=out)))
    return status, out.getvalue()


def test_rows_chain_from_genesis_and_verify(app, clock) -> None:
    _fill(app, clock)
    with get_database(app).session() as s:
        rows = s.query(AuditEntry).order_by(AuditEntry.id).all()
        assert rows[0].prev_hash == GENESIS_HASH
        for before, after in zip(rows, rows[1:]):
            assert after.prev_hash == before.hash
        assert rows[0].actor == "mjohnson" and rows[0].actor_role == "principal"
        assert audit.as_dict(rows[1])["after"]["holder"] == "staff-1"
        result = audit.verify(s)
    assert result.ok and result.rows == 5 and result.head == rows[-1].hash
    assert _verify_cli(app) == (0, f"audit log OK: 5 rows, head {rows[-1].hash}\n")


def test_orm_refuses_update_and_delete(app, clock) -> None:
    _fill(app, clock, 2)
    with get_database(app).session() as s:
        row = s.query(AuditEntry).first()
        row.action = "nothing.happened"
        with pytest.raises(audit.AuditTamperError):
            s.flush()
        s.rollback()
        with pytest.raises(audit.AuditTamperError):
            s.execute(update(AuditEntry).values(actor="someone else"))
        with pytest.raises(audit.AuditTamperError):
            s.execute(delete(AuditEntry))
        row = s.query(AuditEntry).first()
        s.delete(row)
        with pytest.raises(audit.AuditTamperError):
            s.flush()
        s.rollback()
    assert _verify_cli(app)[0] == 0


def test_database_triggers_refuse_update_and_delete(app, clock) -> None:
    """Below the ORM too: raw SQL UPDATE/DELETE fail on SQLite and PostgreSQL."""
    _fill(app, clock, 2)
    engine = get_database(app).engine
    for statement in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError) as exc:
            with engine.begin() as conn:
                conn.execute(text(statement))
        assert "append-only" in str(exc.value)
    assert _verify_cli(app)[0] == 0


def _sqlite_path(app) -> str:
    url = get_database(app).engine.url
    assert url.get_backend_name() == "sqlite"
    return url.database


def test_verify_catches_a_row_edited_in_the_database_file(sqlite_app, clock) -> None:
    _fill(sqlite_app, clock, 5)
    get_database(sqlite_app).dispose()
    path = _sqlite_path(sqlite_app)
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit_log SET after_json = '{}' WHERE id = 3")
    # someone with the file drops the trigger and rewrites history
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("""UPDATE audit_log SET after_json = replace(after_json, 'staff-2', 'staff-9')
                    WHERE id = 3""")
    conn.commit()
    conn.close()
    status, output = _verify_cli(sqlite_app)
    assert status == 1
    assert output.startswith("audit log BROKEN at row 3: its content does not match its hash")


def test_verify_catches_a_row_deleted_or_rehashed(sqlite_app, clock) -> None:
    _fill(sqlite_app, clock, 5)
    get_database(sqlite_app).dispose()
    path = _sqlite_path(sqlite_app)
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.execute("DELETE FROM audit_log WHERE id = 2")
    conn.commit()
    conn.close()
    status, output = _verify_cli(sqlite_app)
    assert status == 1 and "BROKEN at row 3" in output and "previous-hash" in output


def test_verify_catches_an_edit_with_its_own_hash_recomputed(sqlite_app, clock) -> None:
    """Recomputing the edited row's own hash moves the break to the next row."""
    _fill(sqlite_app, clock, 4)
    with get_database(sqlite_app).session() as s:
        row = s.get(AuditEntry, 2)
        forged = audit.chain_hash(row.prev_hash, audit.row_content(row).replace("staff-1", "staff-x"))
    get_database(sqlite_app).dispose()
    conn = sqlite3.connect(_sqlite_path(sqlite_app))
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("UPDATE audit_log SET after_json = replace(after_json, 'staff-1', 'staff-x'), "
                 "hash = ? WHERE id = 2", (forged,))
    conn.commit()
    conn.close()
    status, output = _verify_cli(sqlite_app)
    assert status == 1 and "BROKEN at row 3" in output


def test_verify_catches_an_edit_by_a_database_superuser(app, clock) -> None:
    """On either backend: whoever can drop the triggers still cannot hide an edit."""
    _fill(app, clock, 4)
    engine = get_database(app).engine
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("UPDATE audit_log SET building = 'ms-2' WHERE id = 4"))
    status, output = _verify_cli(app)
    assert status == 1 and output.startswith("audit log BROKEN at row 4")


def test_a_fork_in_the_chain_is_impossible(app, clock) -> None:
    """Two rows can never claim the same predecessor (the unique prev_hash)."""
    _fill(app, clock, 1)
    with get_database(app).session() as s:
        first = s.get(AuditEntry, 1)
        twin = AuditEntry(at=clock.now(), actor="x", actor_role="system", building=None,
                          action="x", target=None, before_json="null", after_json="null",
                          prev_hash=first.prev_hash, hash="f" * 64)
        s.add(twin)
        with pytest.raises(DBAPIError):
            s.flush()
        s.rollback()


def test_record_refuses_bytes_and_bad_actions(app, clock) -> None:
    with get_database(app).session() as s:
        with pytest.raises(TypeError):
            audit.record(s, ACTOR, "secret.view", "hs-1", None, {"code": b"1234"})
        with pytest.raises(ValueError):
            audit.record(s, ACTOR, "", "hs-1", None, None)
        s.rollback()


def test_canonical_content_survives_the_database_round_trip(app, clock) -> None:
    """Times, unicode and nesting hash the same after being stored and read back."""
    with get_database(app).session() as s:
        audit.record(s, "hr-import", "people.import", None, None,
                     {"name": "Zoë O'Brien <b>", "n": [1, 2.5, {"z": None}],
                      "when": clock.now() + timedelta(microseconds=123)}, now=clock.now())
    with get_database(app).session() as s:
        assert audit.verify(s).ok


def test_audit_page_interleaves_door_events_within_scope(app, clock, signed_in) -> None:
    from hub.models.events import Event

    with get_database(app).session() as s:
        audit.record(s, ACTOR, "credential.issue", "hs-1", None, {"key": "A-1"}, now=clock.now())
        for i, (building, kind) in enumerate([("hs-1", "access.denied"), ("ms-2", "access.granted"),
                                              ("hs-1", "door.forced"), ("hs-1", "device.tamper")]):
            s.add(Event(device_id=f"door-{building}", seq=i + 1, type=kind, at=clock.now(),
                        received_at=clock.now(), building_id=building, door_id="records",
                        holder=f"staff-{i}", reason="revoked" if kind == "access.denied" else None,
                        body={}))
    principal, _ = signed_in("principal", ["hs-1"])
    html = principal.get("/auth/audit").get_data(as_text=True)
    assert "access.denied" in html and "door.forced" in html and "credential.issue" in html
    assert "access.granted" not in html  # another building's door
    assert "device.tamper" not in html  # not an access or door event
    auditor, _ = signed_in("auditor")
    html = auditor.get("/auth/audit").get_data(as_text=True)
    assert "access.granted" in html and "access.denied" in html
    filtered = auditor.get("/auth/audit?action=credential.issue").get_data(as_text=True)
    assert "credential.issue" in filtered and "access.denied" not in filtered
    assert auditor.get("/auth/audit?before=abc").status_code == 400


def test_concurrent_writers_keep_one_chain(app, clock) -> None:
    """Several hub workers appending at once: every row lands, in one unbroken chain."""
    import threading

    db = get_database(app)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(15):
                with db.session() as s:
                    audit.record(s, ACTOR, "door.change", "hs-1", None, {"writer": n, "i": i},
                                 now=clock.now())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    with db.session() as s:
        result = audit.verify(s)
    assert result.ok and result.rows == 60


def test_console_command_reports_the_broken_row(sqlite_app, clock, tmp_path) -> None:
    """The installed ``gatehouse-hub audit verify`` on a tampered database file: exit 1, row named."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    _fill(sqlite_app, clock, 6)
    get_database(sqlite_app).dispose()
    path = _sqlite_path(sqlite_app)
    command = [str(Path(sys.executable).parent / "gatehouse-hub"), "audit", "verify"]
    env = {**os.environ, "GATEHOUSE_DATABASE_URL": f"sqlite:///{path}",
           "GATEHOUSE_VAR_DIR": str(tmp_path / "var")}
    env.pop("GATEHOUSE_HUB_CONFIG", None)
    ok = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("audit log OK: 6 rows")
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("UPDATE audit_log SET actor = 'someone-else' WHERE id = 5")
    conn.commit()
    conn.close()
    broken = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert broken.returncode == 1
    assert broken.stdout.startswith("audit log BROKEN at row 5:")
