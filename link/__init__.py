"""The MQTT wire contract shared by every Gatehouse part.

Owns topics (:mod:`link.topics`), typed messages (:mod:`link.messages`), envelope signing
(:mod:`link.signing`), sequence and replay rules (:mod:`link.sequence`), the MQTT client
wrapper (:mod:`link.client`) and the durable outbox (:mod:`link.outbox`).

Must not import ``hardware``, ``controller``, ``kiosk`` or ``hub``.
"""
