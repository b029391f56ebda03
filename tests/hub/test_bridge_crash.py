"""The bridge killed with SIGKILL in the middle of a burst: no event lost, none stored twice.

The bridge runs as a process of its own (as under systemd); a simulated controller keeps sending
through its durable outbox while the bridge's whole process group is killed and a new bridge is
started. Acks go out only after a commit, so the device re-sends whatever the dead bridge had not
committed, and the unique (device, seq) keeps a re-sent event from being stored twice.
"""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from link import messages as m
from hub.db import get_database
from hub.models import Event
from tests.conftest import make_broker_config
from tests.hub.test_bridge import World, wait_for

pytestmark = pytest.mark.broker
ROOT = Path(__file__).resolve().parents[2]

_CHILD = """
import pickle, signal, sys
from pathlib import Path
from hub.bridge import Bridge
from hub.db import get_database
from hub.keyring import get_keyring
from tests.hub.conftest import make_test_app

spec = pickle.loads(Path(sys.argv[1]).read_bytes())
app = make_test_app(spec["db_url"], Path(spec["tmp"]))
bridge = Bridge(get_database(app), get_keyring(app), spec["broker"])
bridge.start()
assert bridge.client.wait_connected(20)
print("ready", flush=True)
signal.pause()
"""


def _spawn(spec_file: Path, log: Path) -> subprocess.Popen:
    with log.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(spec_file)], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=err, text=True,
                                start_new_session=True)
    line = proc.stdout.readline()
    proc.stdout.close()
    assert line.strip() == "ready", log.read_text()[-3000:]
    return proc


def _count(db) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(Event).where(Event.device_id == "ctl-1"))


def test_bridge_killed_mid_burst_loses_nothing_and_stores_nothing_twice(app, mosquitto, pki, tmp_path, db_url) -> None:
    world = World(app, mosquitto, pki, tmp_path)
    world.bridge.stop()  # the bridge under test runs in its own process
    spec = tmp_path / "bridge.pickle"
    spec.write_bytes(pickle.dumps({"db_url": db_url, "tmp": str(tmp_path),
                                   "broker": make_broker_config(mosquitto, pki, "hub")}))
    first = _spawn(spec, tmp_path / "bridge-1.log")
    second = None
    sim = world.sims["ctl-1"].start()
    burst, outage, sent = 600, 400, []

    def send(n: int) -> None:
        for _ in range(n):
            sent.append(sim.send(m.AccessGranted(door="door-1", cred=world.card, holder="S1")))

    sender = threading.Thread(target=send, args=(burst,))
    try:
        sender.start()
        # kill as soon as the first bridge has committed something, while the burst goes on
        assert wait_for(lambda: _count(world.db) >= 20, 60), "the first bridge stored nothing"
        os.killpg(first.pid, signal.SIGKILL)  # the bridge and any worker processes it started
        first.wait(10)
        at_kill = _count(world.db)
        sender.join(120)
        assert not sender.is_alive()
        send(outage)  # the device keeps working while no bridge runs: all of it waits in its outbox
        assert sim.link.outbox.depth() >= outage
        second = _spawn(spec, tmp_path / "bridge-2.log")
        assert wait_for(lambda: sim.link.outbox.depth() == 0, 120), sim.link.outbox.depth()
        with world.db.session() as s:
            seqs = list(s.scalars(select(Event.seq).where(Event.device_id == "ctl-1").order_by(Event.seq)))
        assert len(sent) == burst + outage
        assert seqs == sorted(sent), (len(seqs), len(sent))  # each once: none lost, none doubled
        assert at_kill < len(seqs)  # the second bridge stored what the first never saw
    finally:
        if second is not None:
            os.killpg(second.pid, signal.SIGTERM)
            second.wait(10)
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        # World.close() clears retained statuses through an in-process bridge
        from hub.bridge import Bridge
        from hub.keyring import get_keyring

        world.bridge = Bridge(get_database(app), get_keyring(app), make_broker_config(mosquitto, pki, "hub"))
        world.bridge.start()
        world.bridge.client.wait_connected(10)
        world.close()
