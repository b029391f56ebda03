"""The hub's tables as SQLAlchemy 2.0 typed models (no business rules: those live in services).

Importing this package registers every table on :data:`hub.db.Base.metadata`, the accounts
layer's own (``hub.auth.models``: accounts, sessions, API tokens, the audit log) included.
"""

import hub.auth.models  # noqa: F401  (accounts, API tokens, audit log: owned by hub.auth)
import hub.visitors.models  # noqa: F401  (watch list, visit records, holds: owned by hub.visitors)

from hub.models.buildings import AccessGroup, Building, Door, Holiday, ScheduleWindow
from hub.models.credentials import Keycard, KeyHolding, PhysicalKey, Secret, SecretHolding
from hub.models.devices import AclChange, Device
from hub.models.events import Alert, Event
from hub.models.people import Person
from hub.models.revocations import ChecklistItem, Revocation, RevocationDoor

__all__ = [
    "AccessGroup", "AclChange", "Alert", "Building", "ChecklistItem",
    "Device", "Door", "Event", "Holiday", "KeyHolding", "Keycard", "Person", "PhysicalKey",
    "Revocation", "RevocationDoor", "ScheduleWindow", "Secret", "SecretHolding",
]
