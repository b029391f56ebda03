"""Pool visitor cards at the kiosk (ADR 0003): staff lend a numbered card through the hub, over a
real Mosquitto, with the hub's real handlers on a real SQLite database."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from hub.models import AccessGroup, Building
from hub.visitors import pool as hub_pool
from hub.visitors import services
from hub.visitors.pool_models import PoolAssignment
from kiosk import flow, pool
from kiosk.web import create_app

pytestmark = pytest.mark.broker

SITE_KEY = b"k" * 32


@pytest.mark.parametrize(("text", "number"), [
    ("7", 7), ("007", 7), ("#7", 7), (" 12 ", 12), ("9999", 9999),
    ("0", None), ("10000", None), ("", None), (None, None), ("7a", None), ("-7", None), ("1e3", None),
    ("٣", None), ("7" * 20, None),
])
def test_parse_card_number(text, number) -> None:
    assert pool.parse_card_number(text) == number


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def pool_env(kiosk_env):
    """The kiosk pair, with Lincoln lending cards 7 and 8 and Adams owning card 300."""
    with kiosk_env.database.session() as s:
        s.add(Building(id="adams", name="Adams", tz="America/New_York", created_at=_now()))
        s.add(AccessGroup(building_id="lincoln", slug="visitors", name="Visitors", always=True))
        s.flush()
        hub_pool.configure(s, "lincoln", enabled=True, group_slug="visitors", actor="principal", now=_now())
        for number, uid, building in ((7, "04A1B2C3", "lincoln"), (8, "04A1B2C4", "lincoln"),
                                      (300, "04A1B2C5", "adams")):
            hub_pool.enrol_card(s, SITE_KEY, building_id=building, number=number, uid_text=uid,
                                approver="principal", actor="principal", now=_now())
    assert kiosk_env.kiosk.refresh() and pool.is_enabled(kiosk_env.kiosk)
    return kiosk_env


def _signed_in(env, first: str = "Ana", *, online: bool = True) -> str:
    now = _now()
    photo = env.kiosk.take_photo()
    draft = flow.touch(flow.new_draft("en", now), now, category="visitor", first=first, last="Souza",
                       dob=date(1990, 1, 2), id_source="scanned", photo_jpeg=photo.data["jpeg"], host="s100",
                       destination="main-office", where_chosen=True)
    outcome = env.kiosk.sign_in(draft)
    assert outcome.kind == "printed", outcome
    # online, the result page asks the visitor to see the desk for a card; offline none can be lent
    assert outcome.data.get("pool_cards", False) is online
    return outcome.visit


def _loans(env) -> list[tuple[int, str, str]]:
    with env.database.session() as s:
        return [(lo.card.number, lo.visit_id, lo.status) for lo in s.scalars(select(PoolAssignment))]


def test_lend_then_sign_out_asks_for_the_card_back(pool_env) -> None:
    env = pool_env
    visit = _signed_in(env)
    outcome = pool.lend(env.kiosk, visit, "007")
    assert (outcome.kind, outcome.message, outcome.label, outcome.data["card"]) == ("ok", "pool_lent", "Ana S.", 7)
    assert _loans(env) == [(7, visit, "active")]
    out = env.kiosk.sign_out_visit(visit)
    assert out.kind == "signed_out" and out.data == {"pool_card": 7}
    assert _loans(env) == [(7, visit, "ended")]


@pytest.mark.parametrize(("card", "message"), [
    ("seven", "pool_bad_number"), ("42", "pool_unknown_card"), ("300", "pool_other_building"),
])
def test_bad_cards_are_refused(pool_env, card, message) -> None:
    outcome = pool.lend(pool_env.kiosk, _signed_in(pool_env), card)
    assert (outcome.kind, outcome.message) == ("error", message)
    assert _loans(pool_env) == []


def test_a_lent_card_cannot_be_lent_twice(pool_env) -> None:
    first, second = _signed_in(pool_env), _signed_in(pool_env, "Bruno")
    assert pool.lend(pool_env.kiosk, first, "7").kind == "ok"
    assert pool.lend(pool_env.kiosk, second, "7").message == "pool_in_use"
    assert pool.lend(pool_env.kiosk, first, "8").message == "pool_in_use"


def test_held_visit_gets_no_card(pool_env) -> None:
    env = pool_env
    with env.database.session() as s:
        services.add_watch_entry(s, first="Ana", last="Souza", dob=date(1990, 1, 2), kind="custody", now=_now())
    now = _now()
    draft = flow.touch(flow.new_draft("en", now), now, category="visitor", first="Ana", last="Souza",
                       dob=date(1990, 1, 2), id_source="scanned", photo_jpeg=env.kiosk.take_photo().data["jpeg"],
                       host="s100", destination="main-office", where_chosen=True)
    held = env.kiosk.sign_in(draft)
    assert held.kind == "held"
    assert pool.lend(env.kiosk, held.visit, "7").message == "pool_held"
    assert pool.lend(env.kiosk, "vnot-a-visit-here", "7").message == "pool_visit_closed"
    assert _loans(env) == []


def test_pool_disabled_at_the_hub_or_in_the_directory(pool_env) -> None:
    env = pool_env
    visit = _signed_in(env)
    with env.database.session() as s:
        hub_pool.configure(s, "lincoln", enabled=False, group_slug="visitors", actor="principal", now=_now())
    # the kiosk's directory is not refreshed yet: the hub refuses
    assert pool.lend(env.kiosk, visit, "7").message == "pool_disabled"
    assert env.kiosk.refresh() and not pool.is_enabled(env.kiosk)
    assert pool.lend(env.kiosk, visit, "7").message == "pool_disabled"  # refused without asking


def test_hub_away_activates_nothing_and_says_so(pool_env) -> None:
    env = pool_env
    visit = _signed_in(env)
    env.hub.stop()  # the broker is up, the hub does not answer
    outcome = pool.lend(env.kiosk, visit, "7")
    assert (outcome.kind, outcome.message) == ("error", "pool_offline")
    assert _loans(env) == []


def test_staff_page_lends_a_card(pool_env) -> None:
    env = pool_env
    visit = _signed_in(env)
    env.kiosk._staff_pin = "4321"
    client = create_app(env.kiosk).test_client()
    assert client.get("/staff/pool").headers["Location"] == "/staff"  # the staff PIN first
    client.post("/staff", data={"pin": "4321"})
    assert 'data-testid="pool"' in client.get("/staff/menu").text
    page = client.get("/staff/pool").text
    assert f'data-testid="pool-visit-{visit}"' in page and "Ana S." in page and "Souza" not in page
    page = client.post("/staff/pool", data={"visit": visit, "card": "7"}).text
    assert "Card 7 is active for Ana S. until" in page
    page = client.post("/staff/pool", data={"visit": visit, "card": "x"}).text
    assert "Type the number printed on the card" in page
    env.hub.stop()
    other = _signed_in(env, "Bruno", online=False)  # signed in on the cached list
    page = client.post("/staff/pool", data={"visit": other, "card": "8"}).text
    assert "The hub is not answering, so no card can be activated now" in page


def test_goodbye_page_asks_for_the_card(pool_env) -> None:
    client = create_app(pool_env.kiosk).test_client()
    page = client.get("/out/done?label=Ana%20S.&card=7").text
    assert "Please hand visitor card 7 back to the front desk." in page
    assert "visitor card" not in client.get("/out/done?label=Ana%20S.&card=<b>").text


from hypothesis import given, strategies as st  # noqa: E402


@given(st.text(max_size=20))
def test_parse_card_number_never_raises(text) -> None:
    number = pool.parse_card_number(text)
    assert number is None or (isinstance(number, int) and 1 <= number <= 9999)
