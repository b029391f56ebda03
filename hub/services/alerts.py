"""Alerts: raise (deduplicated by key), list, resolve."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.models import Alert


def raise_alert(session: Session, *, key: str, kind: str, severity: str, message: str,
                now: datetime, building_id: str | None = None,
                device_id: str | None = None) -> Alert:
    """Open an alert, or count one more occurrence of an open alert with the same key."""
    alert = session.scalars(select(Alert).where(Alert.key == key)).first()
    if alert is None:
        alert = Alert(key=key, kind=kind, severity=severity, message=message[:500],
                      building_id=building_id, device_id=device_id, created_at=now, last_at=now)
        session.add(alert)
    else:
        alert.count += 1
        alert.last_at = now
        alert.resolved_at = None
    session.flush()
    return alert


def open_alerts(session: Session, *, building_id: str | None = None,
                kind: str | None = None) -> list[Alert]:
    """Unresolved alerts, newest first."""
    stmt = select(Alert).where(Alert.resolved_at.is_(None)).order_by(Alert.last_at.desc())
    if building_id is not None:
        stmt = stmt.where(Alert.building_id == building_id)
    if kind is not None:
        stmt = stmt.where(Alert.kind == kind)
    return list(session.scalars(stmt))


def resolve(session: Session, alert: Alert, now: datetime) -> None:
    """Mark an alert handled."""
    alert.resolved_at = now
