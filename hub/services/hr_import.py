"""Bulk import from the district's HR CSV export: create, update, terminate — all or nothing.

:func:`parse` and :func:`plan` are pure checks (a dry run shows the plan); :func:`apply`
carries the plan out in the caller's transaction. A file with wrong headers, duplicate staff
ids, bad dates or unknown buildings is rejected as a whole with every faulty line listed.

Columns (header row required, any order): ``staff_id``, ``name``, ``title``, ``buildings``
(ids separated by ``;``), ``status`` (``active``, ``on_leave``, ``terminated``), and optional
``kind`` (``staff``, ``vendor``, ``custodial``), ``company``, ``has_dpa`` (yes/no),
``start_date`` and ``end_date`` (``YYYY-MM-DD``).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import Building, Person, Revocation
from hub.services import people, revocations
from hub.services.audit import ActorLike
from hub.services.audit import record as audit_record
from hub.services.errors import Invalid

REQUIRED = ("staff_id", "name", "title", "buildings", "status")
OPTIONAL = ("kind", "company", "has_dpa", "start_date", "end_date")
MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 200_000
MAX_ERRORS = 50
_BOOL = {"": False, "no": False, "n": False, "false": False, "0": False,
         "yes": True, "y": True, "true": True, "1": True}


class ImportRejected(Invalid):
    """The file was refused as a whole; ``details`` lists each fault as ``line N: ...``."""


@dataclass(frozen=True)
class Row:
    """One valid line of the file."""

    line: int
    staff_id: str
    name: str
    title: str
    buildings: tuple[str, ...]
    status: str
    kind: str
    company: str
    has_dpa: bool
    start_date: date | None
    end_date: date | None


@dataclass(frozen=True)
class Change:
    """What importing one line does: create, update, status, terminate, unchanged or skip."""

    line: int
    staff_id: str
    action: str
    fields: tuple[str, ...] = ()
    note: str = ""


@dataclass
class Plan:
    """The dry run's answer: every change, in file order."""

    changes: list[Change] = field(default_factory=list)

    def count(self, action: str) -> int:
        """How many lines lead to ``action``."""
        return sum(1 for c in self.changes if c.action == action)

    @property
    def summary(self) -> dict[str, int]:
        """Counts per action."""
        out: dict[str, int] = {}
        for c in self.changes:
            out[c.action] = out.get(c.action, 0) + 1
        return out


def _date(text: str, column: str, line: int, errors: list[str]) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        if len(text) != 10:
            raise ValueError
        return date.fromisoformat(text)
    except ValueError:
        errors.append(f"line {line}: {column} {text[:20]!r} is not a date (YYYY-MM-DD)")
        return None


def parse(data: bytes | str, known_buildings: set[str]) -> list[Row]:
    """Validate the whole file; return its rows or raise ImportRejected listing every fault."""
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise ImportRejected(f"file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ImportRejected(f"file is not UTF-8 text (byte {exc.start})") from None
    if "\x00" in data:
        raise ImportRejected("file contains NUL bytes: not a CSV export")
    reader = csv.reader(io.StringIO(data, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ImportRejected("file is empty") from None
    except csv.Error as exc:
        raise ImportRejected(f"line 1: {exc}") from None
    header = [h.strip().lower() for h in header]
    problems = []
    missing = [c for c in REQUIRED if c not in header]
    unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
    dupes = sorted({c for c in header if header.count(c) > 1})
    if missing:
        problems.append(f"line 1: missing column(s) {', '.join(missing)}")
    if unknown:
        problems.append(f"line 1: unknown column(s) {', '.join(u[:40] for u in unknown)}")
    if dupes:
        problems.append(f"line 1: repeated column(s) {', '.join(dupes)}")
    if problems:
        raise ImportRejected("wrong headers; expected " + ", ".join(REQUIRED)
                             + " (and optionally " + ", ".join(OPTIONAL) + ")",
                             field="file", details=problems)
    errors: list[str] = []
    rows: list[Row] = []
    first_line: dict[str, int] = {}
    line = 1
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(f"line {start}: {exc}")
            break
        line = start
        if not any(c.strip() for c in cells):
            continue
        if len(rows) + len(errors) >= MAX_ROWS:
            errors.append(f"line {line}: more than {MAX_ROWS} rows")
            break
        if len(cells) != len(header):
            errors.append(f"line {line}: {len(cells)} fields, the header has {len(header)}")
            continue
        rec = {h: c.strip() for h, c in zip(header, cells)}
        n_before = len(errors)
        if any(len(v) > 200 for v in rec.values()):
            errors.append(f"line {line}: a field is longer than 200 characters")
        sid = rec["staff_id"]
        if not people.STAFF_ID_RE.match(sid):
            errors.append(f"line {line}: staff_id {sid[:40]!r} is not a valid staff id")
        elif sid in first_line:
            errors.append(f"line {line}: staff_id {sid} repeats line {first_line[sid]}")
        else:
            first_line[sid] = line
        if not rec["name"]:
            errors.append(f"line {line}: name is empty")
        status = rec["status"].lower()
        if status not in people.STATUSES:
            errors.append(f"line {line}: status {rec['status'][:20]!r} is not one of "
                          + ", ".join(people.STATUSES))
        kind = (rec.get("kind") or "staff").lower()
        if kind not in people.KINDS:
            errors.append(f"line {line}: kind {kind[:20]!r} is not one of "
                          + ", ".join(people.KINDS))
        bids = tuple(b.strip() for b in rec["buildings"].split(";") if b.strip())
        for b in bids:
            if b not in known_buildings:
                errors.append(f"line {line}: unknown building {b[:64]!r}")
        dpa_text = (rec.get("has_dpa") or "").lower()
        if dpa_text not in _BOOL:
            errors.append(f"line {line}: has_dpa {dpa_text[:10]!r} is not yes or no")
        start_date = _date(rec.get("start_date", ""), "start_date", line, errors)
        end_date = _date(rec.get("end_date", ""), "end_date", line, errors)
        if start_date and end_date and end_date < start_date:
            errors.append(f"line {line}: end_date is before start_date")
        if kind == "vendor" and not rec.get("company"):
            errors.append(f"line {line}: a vendor needs a company")
        if len(errors) == n_before:
            rows.append(Row(line, sid, rec["name"], rec["title"], bids, status, kind,
                            rec.get("company", ""), _BOOL.get(dpa_text, False), start_date,
                            end_date))
        if len(errors) >= MAX_ERRORS:
            errors.append("too many errors; stopped checking")
            break
    if errors:
        raise ImportRejected(f"file rejected: {len(errors)} problem(s); nothing was imported",
                             field="file", details=errors)
    return rows


def _spec(row: Row) -> people.PersonSpec:
    return people.PersonSpec(staff_id=row.staff_id, name=row.name, kind=row.kind,
                             title=row.title, buildings=list(row.buildings),
                             company=row.company, has_dpa=row.has_dpa,
                             start_date=row.start_date, end_date=row.end_date)


def _diff(person: Person, row: Row) -> tuple[str, ...]:
    spec = _spec(row)
    changed = [a for a in ("name", "kind", "title", "company", "has_dpa", "start_date",
                           "end_date") if getattr(person, a) != getattr(spec, a)]
    if sorted(b.id for b in person.buildings) != sorted(row.buildings):
        changed.append("buildings")
    return tuple(changed)


def plan(session: Session, rows: list[Row]) -> Plan:
    """What importing ``rows`` would change (nothing is written)."""
    existing = {p.staff_id: p for p in session.scalars(
        select(Person).where(Person.staff_id.in_([r.staff_id for r in rows])))} if rows else {}
    out = Plan()
    for row in rows:
        person = existing.get(row.staff_id)
        if person is None:
            if row.status == "terminated":
                out.changes.append(Change(row.line, row.staff_id, "skip",
                                          note="not on record and terminated: nothing to do"))
            else:
                out.changes.append(Change(row.line, row.staff_id, "create"))
            continue
        if person.status == "terminated":
            out.changes.append(Change(row.line, row.staff_id, "skip" if row.status ==
                                      "terminated" else "conflict",
                                      note="already terminated" if row.status == "terminated"
                                      else "terminated on record; re-hire needs a new staff id"))
            continue
        if row.status == "terminated":
            out.changes.append(Change(row.line, row.staff_id, "terminate"))
            continue
        fields = _diff(person, row)
        if row.status != person.status:
            fields += ("status",)
        out.changes.append(Change(row.line, row.staff_id, "update" if fields else "unchanged",
                                  fields))
    return out


def dry_run(session: Session, data: bytes | str) -> Plan:
    """Parse and plan without writing."""
    known = set(session.scalars(select(Building.id)))
    return plan(session, parse(data, known))


def apply(session: Session, data: bytes | str, *, actor: ActorLike, now: datetime,
          key_return_days: int = 3) -> tuple[Plan, list[Revocation]]:
    """Import the file in the caller's transaction; every termination revokes at once."""
    known = set(session.scalars(select(Building.id)))
    rows = parse(data, known)
    the_plan = plan(session, rows)
    conflicts = [c for c in the_plan.changes if c.action == "conflict"]
    if conflicts:
        raise ImportRejected("file rejected: nothing was imported", field="file",
                             details=[f"line {c.line}: {c.staff_id}: {c.note}" for c in conflicts])
    by_line = {r.line: r for r in rows}
    revs: list[Revocation] = []
    for change in the_plan.changes:
        row = by_line[change.line]
        if change.action == "create":
            person = people.create_person(session, _spec(row), actor=actor, now=now)
            if row.status == "on_leave":
                people.set_status(session, person, "on_leave", actor=actor, now=now)
        elif change.action == "update":
            person = people.get_person(session, row.staff_id)
            people.update_person(session, person, _spec(row), actor=actor, now=now)
            if row.status != person.status:
                people.set_status(session, person, row.status, actor=actor, now=now)
        elif change.action == "terminate":
            person = people.get_person(session, row.staff_id)
            revs.append(revocations.terminate(session, person, actor=actor, now=now,
                                              reason="HR import: terminated",
                                              key_return_days=key_return_days))
    audit_record(session, actor=actor, action="people.import", now=now,
                 detail={"summary": the_plan.summary, "rows": len(rows)})
    return the_plan, revs
