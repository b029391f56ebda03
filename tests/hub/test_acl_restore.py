"""A hub restored from a backup meets controllers that ran ACL versions it no longer knows.

The controller's real cache (controller.cache.AclCache on SQLite) plays the door: it refuses a
snapshot numbered below its own, so the hub must jump past the version the device reports.
"""

from __future__ import annotations

from sqlalchemy import select

from controller.cache import AclCache
from link import messages as m
from link.keys import card_hmac
from hub.models import Alert, Device
from hub.services import acl, people, revocations
from tests.hub.conftest import NOW
from tests.hub.factories import seed, uid_for


def _load(cache: AclCache, parts) -> None:
    for part in parts:
        result = cache.apply_snapshot(part, NOW)
        assert result.outcome != "refused", result


def test_a_device_ahead_of_a_restored_hub_gets_the_hubs_acl_above_its_own(session, keyring, tmp_path) -> None:
    seed(session, keyring, NOW, controllers=1)
    dev = session.get(Device, "lincoln-ctl-1")
    cache = AclCache(tmp_path / "acl.db")
    # Before the failure the door ran version hub+40 (versions the backup does not hold) ...
    ahead = [part.model_copy(update={"version": dev.acl_version + 40}) for part in acl.snapshot(session, dev, NOW)]
    _load(cache, ahead)
    have = cache.version
    s1_card = card_hmac(keyring.site_key, bytes.fromhex(uid_for("lincoln", 0)))
    before = cache.credential(s1_card)
    assert before is not None and before.status == "active" and before.holder == "S1"
    # ... and what the plain snapshot of the restored hub would be is refused as older:
    assert cache.apply_snapshot(acl.snapshot(session, dev, NOW)[0], NOW).outcome == "refused"
    # The restored hub terminates S1 (again); the door must end up refusing S1's card.
    revocations.terminate(session, people.get_person(session, "S1"), actor="t", now=NOW)
    out = acl.catch_up(session, dev, have, NOW)
    assert out and all(isinstance(b, m.AclSnapshot) for b in out)
    assert out[0].version == have + 1 == dev.acl_version
    _load(cache, out)
    assert cache.version == have + 1
    held = cache.credential(s1_card)
    assert held is None or held.status != "active" or held.holder_status == "terminated"
    alert = session.scalars(select(Alert).where(Alert.kind == "acl_ahead")).one()
    assert alert.device_id == "lincoln-ctl-1" and str(have) in alert.message
    # once aligned, the device is current: nothing more to send, no second alert
    assert acl.catch_up(session, dev, cache.version, NOW) == []
    assert len(session.scalars(select(Alert).where(Alert.kind == "acl_ahead")).all()) == 1


def test_a_device_behind_or_level_is_unchanged(session, keyring) -> None:
    seed(session, keyring, NOW, controllers=1)
    dev = session.get(Device, "lincoln-ctl-1")
    v = dev.acl_version
    assert acl.catch_up(session, dev, v, NOW) == []
    assert dev.acl_version == v
    assert session.scalars(select(Alert).where(Alert.kind == "acl_ahead")).all() == []
