"""The door controller: local credential cache, access policy, door state machine, service.

Owns deciding at a door from the local cache (online or not), driving the strike through
``hardware`` and reporting every event over ``link``. Imports ``hardware`` and ``link`` only;
never ``hub`` or ``kiosk``. ``policy`` and ``door`` are pure cores (no I/O, ``now`` passed in).
"""
