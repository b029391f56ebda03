"""Publishing from several threads while PUBACKs arrive never deadlocks (a real broker)."""

from __future__ import annotations

import threading

import pytest

from link.client import LinkClient
from link import topics
from tests.conftest import make_broker_config


def mqtt_queue_full() -> str:
    import paho.mqtt.client as mqtt

    return mqtt.error_string(mqtt.MQTT_ERR_QUEUE_SIZE)

pytestmark = pytest.mark.broker


def test_many_threads_publish_and_every_delivery_resolves(mosquitto, pki) -> None:
    client = LinkClient(make_broker_config(mosquitto, pki, "hub", client_id="hub-concurrency"))
    client.start()
    assert client.wait_connected(5)
    deliveries = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        for i in range(300):
            d = client.publish(topics.acl(f"door-{n}"), b"x" * 64)
            with lock:
                deliveries.append(d)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "publishing threads are stuck"
    assert len(deliveries) == 1800
    # Every publish paho took is acknowledged; the rest were refused at once because paho's
    # in-memory queue (kept small on purpose: the outbox is the durable queue) was full.
    sent = [d for d in deliveries if d.sent]
    assert len(sent) >= 1000
    assert all(d.wait(10) for d in sent)
    assert {d.reason for d in deliveries if not d.sent} <= {mqtt_queue_full()}
    client.stop()
