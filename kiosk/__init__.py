"""The reception kiosk: visitor sign-in with photo ID, photo, badge printing and sign-out.

Owns the kiosk's local touch web app (Flask, three languages), the pure cores it is built on
(AAMVA licence parsing, visitor text sanitising, badge rendering, the sign-in flow, offline
screening against the cached watch list), the service that ties camera, printer and the
hub link together, and the staff page that lends pool visitor cards (``pool``, ADR 0003).

Imports ``hardware`` and ``link`` only: never ``hub`` or ``controller``.
"""
