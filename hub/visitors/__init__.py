"""The hub's side of visits: watch list, screening, visit records, holds for the front desk.

Owns its own tables (:mod:`hub.visitors.models`, on :data:`hub.db.Base`), the pure matcher
(:mod:`hub.visitors.screening`), the use-cases (:mod:`hub.visitors.services`), pool visitor
keycards lent to one visit (:mod:`hub.visitors.pool`, ADR 0003) and the functions the MQTT
bridge calls for kiosk messages (:mod:`hub.visitors.handlers`).

Imports ``link`` and ``hub`` only: never ``kiosk``, ``controller`` or ``hardware``.
"""
