"""Hub use-cases: each takes a session (and ``now``), returns domain objects, raises ServiceError.

The web UI, the JSON API, the CLI and the MQTT bridge call these; none holds business rules of
its own. Must not import ``flask``, ``paho`` or the hub's views.
"""
