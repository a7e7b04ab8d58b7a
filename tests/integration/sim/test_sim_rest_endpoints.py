"""The simulator's less common REST endpoints on the wire, each against BitMart's sample:
dead-man timer, trailing and plan-order changes, position risk, ledger, brackets, funding
history, demo claim and spot <-> futures transfers."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from sim_wire import (
    KEY,
    MEMO,
    SECRET,
    Reply,
    Wire,
    drain,
    fixture,
    hmac_hex,
    now_ms,
    recv_until,
    subscribe,
)
from test_sim_rest_wire import assert_envelope, assert_same_shape

PRIVATE = "/contract/private/"


@pytest.fixture
async def wire(start_sim: Any) -> AsyncIterator[Wire]:
    """Rate limits off: several of these endpoints allow 1 or 2 calls per 2 s."""
    server = await start_sim(rate_limits=False)
    async with aiohttp.ClientSession() as session:
        yield Wire(session, server)


def assert_exact_shape(data: Any, sample: Any) -> None:
    """The sample's keys, no others, with the sample's JSON types."""
    assert set(data) == set(sample), set(data) ^ set(sample)
    assert_same_shape(data, sample)


def sample_data(name: str) -> Any:
    return fixture(name)["data"]


async def open_orders(wire: Wire, **params: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (await wire.keyed(PRIVATE + "get-open-orders", **params)).data
    return rows


# -- cancel-all-after -----------------------------------------------------------------------


async def test_cancel_all_after_cancels_the_symbols_orders_when_the_timer_runs_out(
    wire: Wire,
) -> None:
    """BTCUSDT armed for 5 s; ETHUSDT armed then disarmed with 0: only BTCUSDT is cancelled,
    and not before its 5 s. Timed from before the arming call, and the pushes watched from
    before it too: a busy machine can only make the cancel look later, never earlier."""
    await wire.order(side=1, price="60000", size=1)
    await wire.order(side=4, price="70000", size=1)
    eth = await wire.order(symbol="ETHUSDT", side=1, price="2900", size=1)
    async with await wire.ws(private=True) as ws:
        await wire.login(ws)
        await subscribe(ws, "futures/order")
        body = fixture("rest_cancel_all_after_request.json") | {"symbol": "BTCUSDT", "timeout": 5}
        called_s = int(now_ms()) // 1000
        # The venue's timer runs on the wall clock (``cancel_time`` is epoch time): timed by
        # it too, so a wall clock stepped forward (a resumed virtual machine) cannot make a
        # cancel on time look early.
        armed_at = time.time()
        armed = await wire.signed(PRIVATE + "cancel-all-after", body)
        answered_s = int(now_ms()) // 1000
        assert_envelope(armed, 1000, 200)
        assert_exact_shape(armed.data, sample_data("rest_cancel_all_after_response.json"))
        assert armed.data["result"] is True
        assert armed.data["cancel_time"] - armed.data["set_time"] == 5
        assert called_s <= armed.data["set_time"] <= answered_s
        assert (
            await wire.signed(PRIVATE + "cancel-all-after", body | {"timeout": 3})
        ).code == 40011
        eth_body = {"symbol": "ETHUSDT", "timeout": 5}
        await wire.signed(PRIVATE + "cancel-all-after", eth_body)
        off = await wire.signed(PRIVATE + "cancel-all-after", eth_body | {"timeout": 0})
        assert (off.data["result"], off.data["cancel_time"]) == (True, 0)

        pushes: list[dict[str, Any]] = []
        while len(pushes) < 2:  # the timer's two cancels; recv bounds a hang
            pushes.append(await recv_until(ws, lambda f: f.get("group") == "futures/order"))
        waited = time.time() - armed_at
        pushes += await drain(ws)
    assert waited >= 4.9, f"cancelled {waited:.2f} s after arming a 5 s timer"
    assert await open_orders(wire, symbol="BTCUSDT") == []
    assert [r["order_id"] for r in await open_orders(wire)] == [str(eth.data["order_id"])]
    assert sorted(p["data"][0]["action"] for p in pushes) == [3, 3]


# -- trailing orders ------------------------------------------------------------------------


async def test_trail_order_waits_activates_and_closes_on_the_callback(wire: Wire) -> None:
    await wire.order(side=1, type="market", size=10)
    request = fixture("rest_submit_trail_order_request.json") | {
        "side": 3,
        "activation_price": "66000",
        "callback_rate": "1",
    }
    placed = await wire.signed(PRIVATE + "submit-trail-order", request)
    assert_envelope(placed, 1000, 200)
    assert_exact_shape(placed.data, sample_data("rest_submit_trail_order_response.json"))
    trail_id = str(placed.data["order_id"])
    (listed,) = await open_orders(wire, symbol="BTCUSDT", type="trailing")
    assert_same_shape(listed, sample_data("rest_order_response_2026.json"))
    assert (listed["order_id"], listed["type"], listed["state"]) == (trail_id, "trailing", 2)
    assert (listed["activation_price"], listed["callback_rate"]) == ("66000", "1")
    assert await open_orders(wire, symbol="BTCUSDT", type="limit") == []

    async with await wire.ws(private=True) as ws:
        await wire.login(ws)
        await subscribe(ws, "futures/order")
        for price in ("66000", "67000", "66400"):  # activate, new high, 0.9 % back: waits
            await wire.price("BTCUSDT", price)
        assert await drain(ws) == []
        await wire.price("BTCUSDT", "66300")  # 1.04 % below the 67000 high: fires
        pushes = await drain(ws)
    order = pushes[-1]["data"][0]["order"]
    assert (order["type"], order["side"], order["deal_size"], order["state"]) == (
        "trailing_order",
        3,
        "10",
        4,
    )
    assert (order["plan_order_id"], order["activation_price"], order["callback_rate"]) == (
        trail_id,
        "66000",
        "1",
    )
    assert order["activation_price_type"] == 1
    assert await open_orders(wire, symbol="BTCUSDT") == []
    done = await wire.keyed(PRIVATE + "order", symbol="BTCUSDT", order_id=trail_id)
    assert (done.data["state"], done.data["executive_order_id"]) == (4, order["order_id"])
    positions = await wire.keyed(PRIVATE + "position", symbol="BTCUSDT")
    assert positions.data == []


async def test_cancel_trail_order(wire: Wire) -> None:
    body = fixture("rest_submit_trail_order_request.json")
    first = (await wire.signed(PRIVATE + "submit-trail-order", body)).data["order_id"]
    await wire.signed(PRIVATE + "submit-trail-order", body)
    cancel = fixture("rest_cancel_trail_order_request.json") | {"order_id": str(first)}
    reply = await wire.signed(PRIVATE + "cancel-trail-order", cancel)
    assert_envelope(reply, 1000, 200)
    assert reply.data == sample_data("rest_cancel_trail_order_response.json")
    assert len(await open_orders(wire, type="trailing")) == 1
    assert (await wire.signed(PRIVATE + "cancel-trail-order", cancel)).code == 40035
    everything = await wire.signed(PRIVATE + "cancel-trail-order", {"symbol": "BTCUSDT"})
    assert everything.data == {}
    assert await open_orders(wire, type="trailing") == []


@pytest.mark.parametrize(
    ("change", "code"),
    [({"callback_rate": "6"}, 40011), ({"activation_price": "2000.05"}, 40043)],
)
async def test_trail_order_refusals(wire: Wire, change: dict[str, str], code: int) -> None:
    body = fixture("rest_submit_trail_order_request.json") | change
    assert_envelope(await wire.signed(PRIVATE + "submit-trail-order", body), code, 400)


# -- plan orders ----------------------------------------------------------------------------


async def test_modify_plan_order_changes_type_and_trigger(wire: Wire) -> None:
    plan_body = fixture("rest_submit_plan_order_request.json") | {
        "trigger_price": "66000",
        "executive_price": "66000",
        "leverage": "10",
        "client_order_id": "plan1",
    }
    plan_id = (await wire.signed(PRIVATE + "submit-plan-order", plan_body)).data["order_id"]
    change = fixture("rest_modify_plan_order_request.json") | {
        "symbol": "BTCUSDT",
        "order_id": str(plan_id),
        "client_order_id": "plan1",
        "type": "market",
        "trigger_price": "66500",
        "price_type": 2,
    }
    change.pop("executive_price")
    reply = await wire.signed(PRIVATE + "modify-plan-order", change)
    assert_envelope(reply, 1000, 200)
    assert_exact_shape(reply.data, sample_data("rest_modify_plan_order_response.json"))
    assert reply.data["order_id"] == str(plan_id)
    (row,) = (await wire.keyed(PRIVATE + "current-plan-order", symbol="BTCUSDT")).data
    assert (row["trigger_price"], row["executive_price"], row["price_type"]) == ("66500", "0", 2)

    await wire.price("BTCUSDT", "66200")  # the old trigger: nothing
    assert (await wire.keyed(PRIVATE + "position", symbol="BTCUSDT")).data == []
    await wire.price("BTCUSDT", "66500")
    (position,) = (await wire.keyed(PRIVATE + "position", symbol="BTCUSDT")).data
    assert position["current_amount"] == "10"
    fired = await wire.signed(PRIVATE + "modify-plan-order", change)
    assert fired.code == 40035  # a plan that fired no longer waits


async def test_modify_limit_order_answers_like_the_sample(wire: Wire) -> None:
    placed = await wire.order(side=1, price="60000", size=2, client_order_id="lim1")
    body = fixture("rest_modify_limit_order_request.json") | {
        "symbol": "BTCUSDT",
        "order_id": placed.data["order_id"],
        "price": "61000",
    }
    reply = await wire.signed(PRIVATE + "modify-limit-order", body)
    assert_exact_shape(reply.data, sample_data("rest_modify_limit_order_response.json"))
    assert reply.data == {"order_id": placed.data["order_id"], "client_order_id": "lim1"}
    (row,) = await open_orders(wire)
    assert (row["price"], row["size"]) == ("61000", "1")


# -- positions and the ledger ---------------------------------------------------------------


async def test_position_risk_matches_both_samples(wire: Wire) -> None:
    await wire.order(side=1, type="market", size=10)  # isolated, 10x (sim_wire defaults)
    await wire.price("BTCUSDT", "65500")
    (row,) = (await wire.keyed(PRIVATE + "position-risk", symbol="BTCUSDT")).data
    assert_same_shape(row, sample_data("rest_position_risk_response.json")[0])
    assert_exact_shape(row, sample_data("rest_position_risk_response_2026.json")[0])
    assert (row["position_amt"], row["position_side"], row["margin_type"]) == (
        "10",
        "Long",
        "Isolated",
    )
    assert (row["mark_price"], row["notional"], row["leverage"]) == ("65500", "655", "10")
    assert row["isolated_margin"] == "65.0001"
    assert row["unrealized_profit"] == "4.999"  # (65500 - 65000.1) x 10 x 0.001
    assert (await wire.keyed(PRIVATE + "position-risk", symbol="ETHUSDT")).data == []


async def test_transaction_history_lists_pnl_commissions_and_transfers(wire: Wire) -> None:
    await wire.order(side=1, type="market", size=10)
    await wire.price("BTCUSDT", "66000")
    await wire.order(side=3, type="market", size=10)
    await wire.signed(
        "/account/v1/transfer-contract", fixture("rest_transfer_contract_request.json")
    )
    rows = (await wire.keyed(PRIVATE + "transaction-history")).data
    for row in rows:
        assert_exact_shape(row, sample_data("rest_transaction_history_response.json")[0])
    assert [(r["flow_type"], r["type"]) for r in rows] == [
        (1, "Transfer"),
        (4, "Commission Fee"),
        (2, "Realized PNL"),
        (4, "Commission Fee"),
    ]
    assert rows[0]["amount"] == "10"
    assert rows[2]["amount"] == "9.998"  # (65999.9 - 65000.1) x 10 x 0.001
    assert rows[1]["amount"].startswith("-")
    pnl = await wire.keyed(PRIVATE + "transaction-history", symbol="BTCUSDT", flow_type="2")
    assert [r["amount"] for r in pnl.data] == ["9.998"]
    later = str(int(now_ms()) + 60_000)
    empty = await wire.keyed(PRIVATE + "transaction-history", start_time=later)
    assert empty.data == []
    assert (await wire.keyed(PRIVATE + "transaction-history", page_size="1001")).code == 40011


# -- public ---------------------------------------------------------------------------------


async def test_leverage_bracket_matches_the_sample(wire: Wire) -> None:
    sample = sample_data("rest_leverage_bracket_response.json")
    reply = await wire.get("/contract/public/leverage-bracket", {"symbol": "BTCUSDT"})
    assert_envelope(reply, 1000, 200)
    (rule,) = reply.data["rules"]
    assert_exact_shape(rule, sample["rules"][0])
    assert rule["brackets"][0] == sample["rules"][0]["brackets"][0]  # BTCUSDT's first tier
    caps = [int(b["notional_cap"]) for b in rule["brackets"]]
    assert caps == sorted(caps)
    assert [b["notional_floor"] for b in rule["brackets"][1:]] == [
        b["notional_cap"] for b in rule["brackets"][:-1]
    ]
    everything = await wire.get("/contract/public/leverage-bracket")
    assert [r["symbol"] for r in everything.data["rules"]] == ["BTCUSDT", "ETHUSDT"]


async def test_funding_rate_and_its_history(wire: Wire) -> None:
    current = (await wire.get("/contract/public/funding-rate", {"symbol": "BTCUSDT"})).data
    assert_exact_shape(current, sample_data("rest_funding_rate_response.json"))
    history = await wire.get(
        "/contract/public/funding-rate-history", {"symbol": "BTCUSDT", "limit": "3"}
    )
    assert_envelope(history, 1000, 200)
    assert_exact_shape(history.data, sample_data("rest_funding_rate_history_response.json"))
    rows = history.data["list"]
    assert len(rows) == 3
    assert_exact_shape(rows[0], sample_data("rest_funding_rate_history_response.json")["list"][0])
    times = [r["funding_time"] for r in rows]
    assert times[0] == current["funding_time"] - 8 * 3_600_000
    assert [a - b for a, b in itertools.pairwise(times)] == [8 * 3_600_000] * 2
    assert (await wire.get("/contract/public/funding-rate-history", {"symbol": "X"})).code == 40034


# -- funds ----------------------------------------------------------------------------------


async def available(wire: Wire) -> str:
    rows = (await wire.keyed(PRIVATE + "assets-detail")).data
    value: str = next(r for r in rows if r["currency"] == "USDT")["available_balance"]
    return value


async def test_demo_claim_tops_up_the_futures_wallet(wire: Wire) -> None:
    reply = await wire.signed(PRIVATE + "claim", fixture("rest_claim_demo_request.json"))
    assert_envelope(reply, 1000, 200)
    assert_exact_shape(reply.data, sample_data("rest_claim_demo_response.json"))
    assert reply.data == {"currency": "USDT", "amount": "10000"}
    assert await available(wire) == "110000"


async def test_transfers_move_balance_and_are_listed(wire: Wire) -> None:
    path = "/account/v1/transfer-contract"
    sent = await wire.signed(path, fixture("rest_transfer_contract_request.json"))
    assert_envelope(sent, 1000, 200)
    assert sent.data == sample_data("rest_transfer_contract_response.json")
    assert await available(wire) == "100010"
    back = {"currency": "USDT", "amount": "25.5", "type": "contract_to_spot"}
    assert (await wire.signed(path, back)).data == {"currency": "USDT", "amount": "25.5"}
    assert await available(wire) == "99984.5"
    too_much = back | {"amount": "1000000"}
    assert_envelope(await wire.signed(path, too_much), 40027, 400)
    assert_envelope(await wire.signed(path, back | {"type": "sideways"}), 40011, 400)
    assert_envelope(await wire.signed(path, back | {"amount": 5}), 40007, 400)

    listed = await wire.signed(
        "/account/v1/transfer-contract-list", fixture("rest_transfer_contract_list_request.json")
    )
    assert_envelope(listed, 1000, 200)
    sample = sample_data("rest_transfer_contract_list_response.json")
    assert_exact_shape(listed.data, sample)
    rows = listed.data["records"]
    for row in rows:
        assert_exact_shape(row, sample["records"][0])
    assert [(r["type"], r["amount"], r["state"]) for r in rows] == [
        ("contract_to_spot", "25.5", "FINISHED"),
        ("spot_to_contract", "10", "FINISHED"),
    ]
    page_two = await wire.signed("/account/v1/transfer-contract-list", {"page": 2, "limit": 10})
    assert page_two.data == {"records": []}


async def signed_at(wire: Wire, path: str, payload: dict[str, Any], ts: str) -> Reply:
    body = json.dumps(payload)
    headers = {
        "X-BM-KEY": KEY,
        "X-BM-TIMESTAMP": ts,
        "X-BM-SIGN": hmac_hex(SECRET, f"{ts}#{MEMO}#{body}"),
        "Content-Type": "application/json",
    }
    return await wire.post_raw(path, body, headers)


async def test_transfers_honour_recv_window(wire: Wire) -> None:
    path = "/account/v1/transfer-contract"
    body = {"currency": "USDT", "amount": "1", "type": "spot_to_contract"}
    ten_s_ago = str(int(now_ms()) - 10_000)
    assert_envelope(await signed_at(wire, path, body, ten_s_ago), 30007, 401)  # default 5 s
    widened = body | {"recvWindow": 60000}
    assert_envelope(await signed_at(wire, path, widened, ten_s_ago), 1000, 200)
    assert_envelope(await wire.signed(path, body | {"recvWindow": 0}), 40011, 400)
    order_body = {"symbol": "BTCUSDT", "side": 1, "type": "limit", "price": "60000", "size": 1}
    older_order = await signed_at(wire, PRIVATE + "submit-order", order_body, ten_s_ago)
    assert_envelope(older_order, 1000, 200)  # no recvWindow on orders: a minute applies
