"""The HR CSV import: dry run, create/update/terminate, whole-file rejection with line numbers."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from hub.models import Keycard, Person, Revocation
from hub.services import hr_import, people
from tests.hub.conftest import NOW
from tests.hub.factories import seed

HEADER = "staff_id,name,title,buildings,status,kind,company,has_dpa,start_date,end_date\n"


def _csv(*rows: str) -> bytes:
    return (HEADER + "".join(r + "\n" for r in rows)).encode()


def test_dry_run_shows_changes_and_writes_nothing(session, keyring) -> None:
    seed(session, keyring, NOW, holders=("S1", "S2"))
    data = _csv("S1,Person S1,Teacher,lincoln,active,,,,2020-09-01,",
                "S2,Person S2,,lincoln,terminated,,,,,",
                "S9,New Hire,Clerk,lincoln,active,,,,2026-03-01,",
                "V1,Vendor Vic,Tech,lincoln,active,vendor,Acme,no,,")
    plan = hr_import.dry_run(session, data)
    assert [(c.staff_id, c.action) for c in plan.changes] == [
        ("S1", "update"), ("S2", "terminate"), ("S9", "create"), ("V1", "create")]
    assert set(plan.changes[0].fields) == {"title", "start_date"}
    assert session.scalar(select(func.count()).select_from(Person)) == 2
    assert people.get_person(session, "S2").status == "active"


def test_import_creates_updates_and_terminates_with_revocation(session, keyring) -> None:
    s = seed(session, keyring, NOW, holders=("S1", "S2"))
    data = _csv("S1,Person S1,Teacher,lincoln,on_leave,,,,,",
                "S2,Person S2,,lincoln,terminated,,,,,",
                "S9,New Hire,Clerk,lincoln,active,,,,,")
    plan, revs = hr_import.apply(session, data, actor="hr", now=NOW)
    assert plan.summary == {"update": 1, "terminate": 1, "create": 1}
    assert people.get_person(session, "S1").status == "on_leave"
    assert people.get_person(session, "S9").title == "Clerk"
    s2 = people.get_person(session, "S2")
    assert s2.status == "terminated"
    assert len(revs) == 1 and revs[0].person_id == s2.id
    card = session.scalars(select(Keycard).where(Keycard.cred_hash == s.cards["S2"])).one()
    assert card.status == "revoked"
    assert {d.door_id for d in revs[0].doors} == {"lincoln-door-1", "lincoln-door-2"}
    # the same file again changes nothing more
    plan2, revs2 = hr_import.apply(session, data, actor="hr", now=NOW)
    assert revs2 == [] and plan2.summary == {"unchanged": 2, "skip": 1}


@pytest.mark.parametrize("data, expect", [
    (b"staff_id,name,title,buildings\nS1,A,,lincoln\n", "line 1: missing column(s) status"),
    (b"staff_id,name,title,buildings,status,shoe_size\n", "line 1: unknown column(s) shoe_size"),
    (_csv("S1,A,,lincoln,active,,,,,", "S1,B,,lincoln,active,,,,,"), "line 3: staff_id S1 repeats line 2"),
    (_csv("S1,A,,lincoln,active,,,,2026-02-30,"), "line 2: start_date '2026-02-30' is not a date"),
    (_csv("S1,A,,lincoln,active,,,,03/02/2026,"), "line 2: start_date '03/02/2026' is not a date"),
    (_csv("S1,A,,nowhere,active,,,,,"), "line 2: unknown building 'nowhere'"),
    (_csv("S1,A,,lincoln,retired,,,,,"), "line 2: status 'retired'"),
    (_csv("S1,A,,lincoln,active,,,"), "line 2: 8 fields, the header has 10"),
    (_csv("bad id!,A,,lincoln,active,,,,,"), "line 2: staff_id 'bad id!'"),
    (_csv("V1,Vic,,lincoln,active,vendor,,,,"), "line 2: a vendor needs a company"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b"", "file is empty"),
])
def test_bad_files_are_rejected_whole_with_line_numbers(session, keyring, data, expect) -> None:
    seed(session, keyring, NOW, controllers=0, holders=("S1",))
    with pytest.raises(hr_import.ImportRejected) as exc:
        hr_import.apply(session, data + _good_tail() if data.startswith(HEADER.encode()) else data,
                        actor="hr", now=NOW)
    text = exc.value.message + "\n" + "\n".join(exc.value.details)
    assert expect in text, text
    assert session.scalar(select(func.count()).select_from(Person)) == 1  # nothing half-imported
    assert people.get_person(session, "S1").status == "active"


def _good_tail() -> bytes:
    # a valid termination after the bad line: it must not happen either
    return b"S1,Person S1,,lincoln,terminated,,,,,\n"


def test_error_lines_count_multiline_quoted_fields(session, keyring) -> None:
    seed(session, keyring, NOW, controllers=0, holders=())
    data = _csv('S1,"Ana\nSilva",,lincoln,active,,,,,', "S2,Bo,,lincoln,active,,,,not-a-date,")
    with pytest.raises(hr_import.ImportRejected) as exc:
        hr_import.parse(data, {"lincoln"})
    assert exc.value.details == ["line 4: start_date 'not-a-date' is not a date (YYYY-MM-DD)"]


def test_terminated_on_record_cannot_be_reactivated_by_file(session, keyring) -> None:
    seed(session, keyring, NOW, controllers=0, holders=("S1",))
    hr_import.apply(session, _csv("S1,Person S1,,lincoln,terminated,,,,,"), actor="hr", now=NOW)
    with pytest.raises(hr_import.ImportRejected) as exc:
        hr_import.apply(session, _csv("S1,Person S1,,lincoln,active,,,,,"), actor="hr", now=NOW)
    assert "re-hire" in exc.value.details[0]
    assert session.scalar(select(func.count()).select_from(Revocation)) == 1


_cell = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(_cell, min_size=0, max_size=12), max_size=6))
def test_parser_never_crashes_on_arbitrary_csv(rows) -> None:
    import csv
    import io

    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["staff_id", "name", "title", "buildings", "status"])
    for r in rows:
        w.writerow(r)
    try:
        parsed = hr_import.parse(buf.getvalue().encode(), {"lincoln"})
    except hr_import.ImportRejected as exc:
        assert exc.details or exc.message
    else:
        assert all(people.STAFF_ID_RE.match(r.staff_id) for r in parsed)
