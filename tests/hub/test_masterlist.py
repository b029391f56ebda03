"""The master-list page (paged, searchable, counted), its print view and its CSV export."""

from __future__ import annotations

import csv
import json
import io
import re

import pytest
from sqlalchemy import select

from hub.auth.models import AuditEntry
from hub.db import get_database
from hub.keyring import get_keyring
from hub.models import Keycard, Person
from hub.models.people import person_buildings
from hub.services import credentials, people
from hub.services.errors import Invalid
from tests.hub.auth.conftest import HttpsClient
from tests.hub.conftest import NOW
from tests.hub.factories import seed
from tests.hub.test_web import signed_in


@pytest.fixture
def big(app):
    """Lincoln with 130 extra people holding 260 keycards (every 4th revoked), keys and a code."""
    app.test_client_class = HttpsClient
    with get_database(app).session() as s:
        seed(s, get_keyring(app), NOW)
        seed(s, get_keyring(app), NOW, building="adams", controllers=1, holders=("A1",))
        for i in range(130):
            p = Person(staff_id=f"T{i:03d}", name=f"Teacher {i:03d}", kind="staff",
                       status="on_leave" if i % 10 == 9 else "active", created_at=NOW,
                       updated_at=NOW)
            s.add(p)
            s.flush()
            s.execute(person_buildings.insert().values(person_id=p.id, building_id="lincoln"))
            for j in range(2):
                n = i * 2 + j
                s.add(Keycard(building_id="lincoln", person_id=p.id, cred_hash=f"{n:064x}",
                              status="revoked" if n % 4 == 3 else "active", label="",
                              issued_at=NOW, approved_by="principal", issued_by="t",
                              ended_at=NOW if n % 4 == 3 else None))
        s.flush()
        s2 = people.get_person(s, "S2")
        key = credentials.create_key(s, "lincoln", mark="RR-1", opens="records room cylinder",
                                     copies=3, records_room=True, actor="t", now=NOW)
        credentials.issue_key(s, key, s2, approver="Principal Pat", actor="t", now=NOW)
        credentials.create_key(s, "lincoln", mark="SPARE-9", opens="boiler room", copies=1,
                               records_room=False, actor="t", now=NOW)
        code = credentials.create_secret(s, get_keyring(app).vault, "lincoln",
                                         kind="combination", label="Safe", value="31-7-22",
                                         actor="t", now=NOW)
        credentials.share_secret(s, code, s2, approver="Principal Pat", actor="t", now=NOW)
    return app


def _rows(html: str, table_id: str) -> list[str]:
    section = html.split(f'<h2 id="{table_id}">', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr><td>.*?</tr>", section, flags=re.S)


def test_keycards_are_paged_with_counts_in_the_header(big) -> None:
    client, _ = signed_in(big, "principal", ["lincoln"])
    html = client.get("/buildings/lincoln").get_data(as_text=True)
    # 195 active of the teachers' 260 + S1 and S2; 132 people; 2 key types, 1 copy out; 1 code
    assert re.search(r"<strong>197</strong> active keycards\s*\(262 recorded\)", html)
    assert re.search(r"<strong>119</strong> active people \(132 attached\)", html)
    assert "<strong>2</strong> key types, 1 copies out" in html
    assert "Keycards (1–100 of 197 active)" in html
    assert len(_rows(html, "keycards")) == 100
    assert "page 1 of 2" in html and 'rel="next"' in html
    second = client.get("/buildings/lincoln?page=2").get_data(as_text=True)
    assert "Keycards (101–197 of 197 active)" in second and len(_rows(second, "keycards")) == 97
    assert 'rel="prev"' in second
    every = client.get("/buildings/lincoln?status=all&page=3").get_data(as_text=True)
    assert "Keycards (201–262 of 262)" in every
    # the pager keeps the filter
    assert "status=all" in re.search(r'href="([^"]+)"[^>]*rel="prev"', every).group(1)


def test_search_by_name_staff_id_and_status(big) -> None:
    client, _ = signed_in(big, "principal", ["lincoln"])
    html = client.get("/buildings/lincoln?q=teacher+012").get_data(as_text=True)
    rows = _rows(html, "keycards")
    assert len(rows) == 2 and all("T012" in r for r in rows)  # card 25 is active, 24 active
    assert "matching “teacher 012”" in html
    by_id = client.get("/buildings/lincoln?q=t01&status=revoked").get_data(as_text=True)
    rows = _rows(by_id, "keycards")
    assert rows and all("revoked" in r and re.search(r"T01\d", r) for r in rows)
    assert len(rows) == 5  # T010..T019 hold cards 20..39; 23, 27, 31, 35, 39 revoked
    people_rows = _rows(by_id, "people")
    assert len(people_rows) == 10
    leave = client.get("/buildings/lincoln?pstatus=on_leave").get_data(as_text=True)
    assert len(_rows(leave, "people")) == 13
    assert all("on leave" in r for r in _rows(leave, "people"))
    # holders of keys and codes are found the same way
    s2 = client.get("/buildings/lincoln?q=S2").get_data(as_text=True)
    assert "RR-1" in s2 and "SPARE-9" not in s2 and "Safe" in s2
    # LIKE wildcards are literal: "%" matches no one rather than everyone
    none = client.get("/buildings/lincoln?q=%25").get_data(as_text=True)
    assert "No keycards match this filter." in none and "No one matches this filter." in none


@pytest.mark.parametrize("query, field", [
    ("page=0", "page"), ("page=-1", "page"), ("page=x", "page"), ("ppage=1.5", "page"),
    ("status=stolenish", "status"), ("pstatus=revoked", "status"), ("kpage=%20", "page"),
    ("q=" + "x" * 101, "search"), ("q=a%00b", "search"),
])
def test_bad_filters_are_refused_with_a_clear_message(big, query, field) -> None:
    client, _ = signed_in(big, "principal", ["lincoln"])
    r = client.get(f"/buildings/lincoln?{query}")
    assert r.status_code == 422
    assert field in r.get_data(as_text=True)


def test_parse_filter_defaults() -> None:
    assert credentials.parse_filter(None, None, None, statuses=credentials.CARD_STATUSES,
                                    default_status="active") == ("", "active", 1)
    assert credentials.parse_filter(" x ", "all", "7", statuses=()) == ("x", "", 7)
    with pytest.raises(Invalid):
        credentials.parse_filter(None, None, "1000001", statuses=())


def test_print_view_is_confidential_dated_signed_and_audited(big) -> None:
    client, _ = signed_in(big, "principal", ["lincoln"])
    r = client.get("/buildings/lincoln/master-list/print")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "CONFIDENTIAL" in html and "Printed " in html and "by principalx1" in html
    assert "RR-1" in html and "records room cylinder" in html and "Principal Pat" in html
    assert "SPARE-9" in html and "no copy issued" in html
    assert "Safe" in html and "31-7-22" not in html  # holders, never the value
    assert "Keycards (197 active)" in html and "Teacher 129" in html
    assert all(c not in html for c in ("0" * 63 + "1", "0" * 63 + "2"))  # no card hash
    assert "print.css" in html and "print.js" in html
    assert "<script>" not in re.sub(r'<script src="[^"]+"></script>', "", html)
    with get_database(big).session() as s:
        rows = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "masterlist.print")))
    assert len(rows) == 1 and rows[0].building == "lincoln" and rows[0].actor == "principalx1"


@pytest.mark.parametrize("role, scope, status", [
    ("auditor", [], 403), ("front_desk", ["lincoln"], 403), ("principal", ["adams"], 403),
    ("privacy_team", [], 200),
])
def test_only_the_principal_and_privacy_team_print_or_export(big, role, scope, status) -> None:
    client, _ = signed_in(big, role, scope)
    assert client.get("/buildings/lincoln/master-list/print").status_code == status
    assert client.get("/buildings/lincoln/master-list.csv").status_code == status
    with get_database(big).session() as s:
        audited = list(s.scalars(select(AuditEntry.action).where(
            AuditEntry.action.in_(["masterlist.print", "masterlist.csv"]))))
    assert sorted(audited) == (["masterlist.csv", "masterlist.print"] if status == 200 else [])


def test_csv_quotes_and_neutralises_formulas(big) -> None:
    hostile = {"S1": '=HYPERLINK("http://evil","x")', "T000": "+1+1", "T001": "-2+3",
               "T002": "@SUM(A1)", "T003": "\t=cmd", "T004": '  =1+1', "T005": "Ann, \"Jo\"\nX",
               "T006": "\uff1d1+1"}
    with get_database(big).session() as s:
        for staff_id, name in hostile.items():
            people.get_person(s, staff_id).name = name
    client, _ = signed_in(big, "principal", ["lincoln"])
    r = client.get("/buildings/lincoln/master-list.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert 'filename="master-list-lincoln.csv"' in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows[0] == credentials.EXPORT_HEADER
    names = {row[2]: row[3] for row in rows[1:] if row[0] == "keycard"}
    for staff_id, name in hostile.items():
        if staff_id == "T005":
            assert names[staff_id] == name  # commas, quotes and newlines survive the round trip
        else:
            assert names[staff_id] == "'" + name, staff_id
    keycards = [row for row in rows[1:] if row[0] == "keycard"]
    assert len(keycards) == 262  # every status
    assert {row[4] for row in keycards} == {"active", "revoked"}
    key = [row for row in rows if row[0] == "key"]
    assert ["key", "RR-1", "S2", "Person S2", "issued"] == key[0][:5]
    assert key[0][8] == "records room cylinder" and key[0][6] == "Principal Pat"
    assert ["key", "SPARE-9", "", "", "not issued"] == key[1][:5]
    text = r.get_data(as_text=True)
    assert "31-7-22" not in text
    with get_database(big).session() as s:
        assert all(c.cred_hash not in text for c in s.scalars(select(Keycard)))
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "masterlist.csv")).one()
    assert json.loads(entry.after_json)["rows"] == len(rows) - 1 == 265


@pytest.mark.parametrize("value, expected", [
    ("=1", "'=1"), ("+1", "'+1"), ("-1", "'-1"), ("@x", "'@x"), ("\t=1", "'\t=1"),
    ("\r=1", "'\r=1"), ("  =1", "'  =1"), ("\uff20x", "'\uff20x"), ("a=1", "a=1"), ("", ""),
    ("Ann", "Ann"),
])
def test_csv_cell_guard(value, expected) -> None:
    assert credentials._csv_safe(value) == expected
