"""The simulator's REST side on the wire: auth codes, statuses, rate limits, shapes."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from sim_wire import KEY, MEMO, SECRET, Reply, Wire, fixture, hmac_hex, now_ms

from zoneguard.sim import SimServer

RATE_HEADERS = (
    "X-BM-RateLimit-Remaining",
    "X-BM-RateLimit-Limit",
    "X-BM-RateLimit-Reset",
    "X-BM-RateLimit-Mode",
)
ORDER_BODY = json.dumps(
    {"symbol": "BTCUSDT", "side": 1, "type": "limit", "price": "60000", "size": 1}
)


def assert_envelope(reply: Reply, code: int, status: int) -> None:
    assert (reply.status, reply.code) == (status, code), reply.body
    assert set(reply.body) == {"code", "message", "data", "trace"}
    assert isinstance(reply.body["message"], str)
    assert isinstance(reply.body["trace"], str)
    assert all(name in reply.headers for name in RATE_HEADERS)


def signed_headers(body: str, **override: str) -> dict[str, str]:
    ts = now_ms()
    headers = {
        "X-BM-KEY": KEY,
        "X-BM-TIMESTAMP": ts,
        "X-BM-SIGN": hmac_hex(SECRET, f"{ts}#{MEMO}#{body}"),
        "Content-Type": "application/json",
    }
    headers.update(override)
    return {name: value for name, value in headers.items() if value != "<drop>"}


# -- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"X-BM-KEY": "<drop>"}, 30001),
        ({"X-BM-KEY": "someone-else"}, 30002),
        ({"X-BM-SIGN": "<drop>"}, 30004),
        ({"X-BM-SIGN": "0" * 64}, 30005),
        ({"X-BM-TIMESTAMP": "<drop>"}, 30006),
        ({"X-BM-TIMESTAMP": "1589267764859"}, 30007),
        ({"X-BM-TIMESTAMP": "yesterday"}, 30008),
    ],
)
async def test_signed_post_auth_errors_are_401_with_their_code(
    wire: Wire, override: dict[str, str], code: int
) -> None:
    reply = await wire.post_raw(
        "/contract/private/submit-order", ORDER_BODY, signed_headers(ORDER_BODY, **override)
    )
    assert_envelope(reply, code, 401)
    assert reply.data is None
    assert (await wire.state())["orders"] == []


async def test_signature_covers_the_raw_bytes(wire: Wire) -> None:
    sent = ORDER_BODY.replace(":", ": ")  # same JSON, different bytes than those signed
    reply = await wire.post_raw("/contract/private/submit-order", sent, signed_headers(ORDER_BODY))
    assert_envelope(reply, 30005, 401)
    ok = await wire.post_raw("/contract/private/submit-order", sent, signed_headers(sent))
    assert_envelope(ok, 1000, 200)


async def test_keyed_gets_need_only_a_known_key(wire: Wire) -> None:
    assert_envelope(await wire.get("/contract/private/assets-detail"), 30001, 401)
    assert_envelope(
        await wire.get("/contract/private/assets-detail", headers={"X-BM-KEY": "x"}), 30002, 401
    )
    reply = await wire.keyed("/contract/private/assets-detail")
    assert_envelope(reply, 1000, 200)


async def test_unknown_path_is_404_30000_and_non_json_body_is_503_30018(wire: Wire) -> None:
    assert_envelope(await wire.keyed("/contract/private/nothing-here"), 30000, 404)
    assert_envelope(await wire.get("/contract/private/submit-order"), 30000, 404)  # wrong verb
    body = "symbol=BTCUSDT&side=1"
    reply = await wire.post_raw("/contract/private/submit-order", body, signed_headers(body))
    assert_envelope(reply, 30018, 503)


# -- rate limits ---------------------------------------------------------------------------


async def test_rate_limit_headers_count_used_requests_then_429(wire: Wire) -> None:
    used = []
    for _ in range(6):  # position: 6 per 2 s per key
        reply = await wire.keyed("/contract/private/position")
        assert reply.status == 200
        used.append(reply.headers["X-BM-RateLimit-Remaining"])
        assert reply.headers["X-BM-RateLimit-Limit"] == "6"
        assert reply.headers["X-BM-RateLimit-Reset"] == "2"
        assert reply.headers["X-BM-RateLimit-Mode"] == "KEY"
    assert used == ["1", "2", "3", "4", "5", "6"]
    refused = await wire.keyed("/contract/private/position")
    assert_envelope(refused, 30013, 429)
    assert refused.headers["X-BM-RateLimit-Remaining"] == "6"
    assert (await wire.keyed("/contract/private/position-v2")).status == 200  # its own bucket


async def test_rate_limits_can_be_switched_off(start_sim: Any) -> None:
    server: SimServer = await start_sim(rate_limits=False)
    async with aiohttp.ClientSession() as session:
        wire = Wire(session, server)
        statuses = {(await wire.get("/system/time")).status for _ in range(20)}
    assert statuses == {200}


# -- business errors and types ---------------------------------------------------------------


async def test_submit_order_answers_an_int_id_and_queries_answer_strings(wire: Wire) -> None:
    placed = await wire.order(side=1, price="60000", size=2, client_order_id="abc1")
    assert_envelope(placed, 1000, 200)
    assert set(placed.data) == {"order_id", "price"}
    assert isinstance(placed.data["order_id"], int)
    assert placed.data["order_id"] > 2**53  # like BitMart's: not exact as an IEEE double
    assert placed.data["price"] == "60000"
    order_id = str(placed.data["order_id"])

    detail = await wire.keyed("/contract/private/order", symbol="BTCUSDT", order_id=order_id)
    row = detail.data
    expected = fixture("rest_order_response_2026.json")["data"]
    assert set(expected) <= set(row)
    for name, value in expected.items():
        assert type(row[name]) is type(value), name
    assert (row["order_id"], row["client_order_id"], row["state"], row["side"]) == (
        order_id,
        "abc1",
        2,
        1,
    )
    assert (row["size"], row["deal_size"], row["price"]) == ("2", "0", "60000")

    (listed,) = (await wire.keyed("/contract/private/get-open-orders", symbol="BTCUSDT")).data
    assert listed["order_id"] == order_id
    history = await wire.keyed(
        "/contract/private/order-history", symbol="BTCUSDT", client_order_id="abc1"
    )
    assert [r["order_id"] for r in history.data] == [order_id]

    cancel = await wire.signed(
        "/contract/private/cancel-order", {"symbol": "BTCUSDT", "order_id": order_id}
    )
    assert_envelope(cancel, 1000, 200)
    assert cancel.data == {}
    again = await wire.signed(
        "/contract/private/cancel-order", {"symbol": "BTCUSDT", "order_id": order_id}
    )
    assert_envelope(again, 40035, 400)


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"side": 1, "price": "60000", "size": 1, "client_order_id": "dup1"}, 40050),
        ({"side": 9, "price": "60000", "size": 1}, 40041),
        ({"side": 1, "price": "60000", "size": 1, "type": "stop"}, 40042),
        ({"side": 1, "price": "60000.05", "size": 1}, 40043),
        ({"side": 1, "price": "60000", "size": 1.5}, 40007),  # not a JSON integer
        ({"side": 1, "price": "60000", "size": "ten"}, 40007),
        ({"side": 1, "price": "60000", "size": 0}, 40044),
        ({"side": 1, "price": "60000", "size": 1, "client_order_id": "no_way"}, 40048),
        ({"side": 1, "price": "60000", "size": 1, "client_order_id": "x" * 33}, 40049),
        ({"side": 1, "price": "60000", "size": 1, "leverage": "500"}, 40029),
        ({"side": 1, "price": "60000", "size": 1, "symbol": "NOPEUSDT"}, 40034),
        ({"side": 3, "type": "market", "size": 1}, 40021),
        ({"side": 1, "price": "60000", "size": 400000}, 40027),
        ({"price": "60000", "size": 1}, 40011),
    ],
)
async def test_business_errors_are_400_with_bitmart_codes(
    wire: Wire, fields: dict[str, Any], code: int
) -> None:
    assert_envelope(
        await wire.order(side=1, price="60000", size=1, client_order_id="dup1"), 1000, 200
    )
    reply = await wire.order(**fields)
    assert_envelope(reply, code, 400)


WRONG_TYPES: list[tuple[str, dict[str, Any]]] = [
    ("side", {"side": "1", "price": "60000", "size": 1}),
    ("size", {"side": 1, "price": "60000", "size": "1"}),
    ("price", {"side": 1, "price": 60000, "size": 1}),
    ("leverage", {"side": 1, "price": "60000", "size": 1, "leverage": 10}),
    ("mode", {"side": 1, "price": "60000", "size": 1, "mode": "1"}),
    ("preset_stop_loss_price", {"side": 1, "price": "60000", "size": 1,
                                "preset_stop_loss_price": 59000}),
    ("preset_stop_loss_price_type", {"side": 1, "price": "60000", "size": 1,
                                     "preset_stop_loss_price": "59000",
                                     "preset_stop_loss_price_type": "1"}),
]  # fmt: skip


@pytest.mark.parametrize(("name", "fields"), WRONG_TYPES)
async def test_fields_of_another_json_type_are_40007_by_default(
    wire: Wire, name: str, fields: dict[str, Any]
) -> None:
    reply = await wire.order(**fields)
    assert_envelope(reply, 40007, 400)
    assert reply.body["message"].startswith(f"{name} must be a JSON ")
    assert (await wire.state())["orders"] == []


async def test_lenient_types_accept_numbers_and_numeric_strings(start_sim: Any) -> None:
    server: SimServer = await start_sim(strict_types=False)
    async with aiohttp.ClientSession() as session:
        wire = Wire(session, server)
        for _, fields in WRONG_TYPES:
            assert_envelope(await wire.order(**fields), 1000, 200)
        assert_envelope(await wire.order(side=True, price="60000", size=1), 40007, 400)
        assert_envelope(await wire.order(side=1, price="60000", size=1.5), 40043, 400)
        assert len((await wire.state())["orders"]) == len(WRONG_TYPES)


async def test_order_ids_are_read_as_json_integers_or_strings(wire: Wire) -> None:
    """BitMart's own samples send ``order_id`` both ways (cancel: string, modify: integer)."""
    first = (await wire.order(side=1, price="60000", size=1)).data["order_id"]
    second = (await wire.order(side=1, price="60000", size=1)).data["order_id"]
    cancel = "/contract/private/cancel-order"
    assert_envelope(await wire.signed(cancel, {"symbol": "BTCUSDT", "order_id": first}), 1000, 200)
    assert_envelope(
        await wire.signed(cancel, {"symbol": "BTCUSDT", "order_id": str(second)}), 1000, 200
    )


async def test_close_size_above_position_is_40020(wire: Wire) -> None:
    assert_envelope(await wire.order(side=1, type="market", size=3), 1000, 200)
    assert_envelope(await wire.order(side=3, type="market", size=4), 40020, 400)
    assert_envelope(await wire.order(side=3, type="market", size=3), 1000, 200)


async def test_maker_only_crossing_in_reject_mode_is_40011_naming_maker(start_sim: Any) -> None:
    server: SimServer = await start_sim(post_only_cross="reject")
    async with aiohttp.ClientSession() as session:
        wire = Wire(session, server)
        reply = await wire.order(side=1, price="65000.1", size=1, mode=4)
        assert_envelope(reply, 40011, 400)
        assert "maker" in reply.body["message"].lower()
        assert (await wire.state())["orders"] == []


async def test_maker_only_crossing_in_cancel_mode(start_sim: Any) -> None:
    server: SimServer = await start_sim(post_only_cross="cancel")
    async with aiohttp.ClientSession() as session:
        wire = Wire(session, server)
        placed = await wire.order(side=1, price="65000.1", size=1, mode=4)
        assert_envelope(placed, 1000, 200)
        detail = await wire.keyed(
            "/contract/private/order", symbol="BTCUSDT", order_id=str(placed.data["order_id"])
        )
    assert (detail.data["state"], detail.data["deal_size"]) == (4, "0")


# -- public and account shapes ------------------------------------------------------------


def assert_same_shape(row: dict[str, Any], sample: dict[str, Any]) -> None:
    assert set(sample) <= set(row), set(sample) - set(row)
    for name, value in sample.items():
        assert type(row[name]) is type(value), name


async def test_public_endpoints_match_fixture_shapes(wire: Wire) -> None:
    details = await wire.get("/contract/public/details", {"symbol": "BTCUSDT"})
    (row,) = details.data["symbols"]
    assert_same_shape(
        row, fixture("rest_contract_details_response_2026.json")["data"]["symbols"][0]
    )
    assert (row["last_price"], row["price_precision"], row["contract_size"]) == (
        "65000",
        "0.1",
        "0.001",
    )
    assert len((await wire.get("/contract/public/details")).data["symbols"]) == 2

    depth = (await wire.get("/contract/public/depth", {"symbol": "BTCUSDT"})).data
    assert depth["bids"][0][0] == "64999.9"
    assert depth["asks"][0][0] == "65000.1"
    assert int(depth["asks"][1][2]) == int(depth["asks"][0][1]) + int(depth["asks"][1][1])

    await wire.price("BTCUSDT", "65010")
    trades = (await wire.get("/contract/public/market-trade", {"symbol": "BTCUSDT"})).data
    assert_same_shape(trades[0], fixture("rest_market_trade_response.json")["data"][0])
    assert trades[0]["price"] == "65010"

    start = str(int(now_ms()) // 1000 - 600)
    klines = await wire.get(
        "/contract/public/kline",
        {"symbol": "BTCUSDT", "step": "1", "start_time": start, "end_time": now_ms()[:-3]},
    )
    assert klines.data, klines.body
    assert_same_shape(klines.data[-1], fixture("rest_kline_response.json")["data"][0])
    assert klines.data[-1]["close_price"] == "65010"

    funding = (await wire.get("/contract/public/funding-rate", {"symbol": "BTCUSDT"})).data
    assert_same_shape(funding, fixture("rest_funding_rate_response.json")["data"])
    server_time = (await wire.get("/system/time")).data["server_time"]
    assert abs(server_time - int(now_ms())) < 5000
    assert (await wire.get("/contract/public/depth", {"symbol": "NOPE"})).code == 40034


async def test_account_endpoints_match_fixture_shapes(wire: Wire) -> None:
    await wire.order(side=1, price="64000", size=10, preset_stop_loss_price="63000")
    await wire.price("BTCUSDT", "64000")  # the entry fills, its SL becomes a plan order

    assets = (await wire.keyed("/contract/private/assets-detail")).data
    assert_same_shape(assets[0], fixture("rest_assets_detail_response.json")["data"][0])
    assert assets[0]["position_deposit"] == "64"

    (position,) = (await wire.keyed("/contract/private/position", symbol="BTCUSDT")).data
    assert_same_shape(position, fixture("rest_position_response_2026.json")["data"][0])
    assert (position["current_amount"], position["position_type"]) == ("10", 1)

    rows = (await wire.keyed("/contract/private/position-v2", symbol="BTCUSDT")).data
    assert [(r["position_side"], r["current_amount"]) for r in rows] == [
        ("long", "10"),
        ("short", "0"),
    ]
    assert_same_shape(rows[0], fixture("rest_position_v2_response.json")["data"][0])

    (plan,) = (
        await wire.keyed(
            "/contract/private/current-plan-order", symbol="BTCUSDT", plan_type="profit_loss"
        )
    ).data
    assert_same_shape(plan, fixture("rest_current_plan_order_response.json")["data"][0])
    assert (plan["type"], plan["side"], plan["plan_category"], plan["trigger_price"]) == (
        "stop_loss",
        3,
        2,
        "63000",
    )
    assert plan["size"] == "10"  # a whole-position stop shows what it would close
    plain = await wire.keyed("/contract/private/current-plan-order", symbol="BTCUSDT")
    assert plain.data == []  # plan_type defaults to plain trigger orders

    (fill,) = (await wire.keyed("/contract/private/trades", symbol="BTCUSDT")).data
    assert_same_shape(fill, fixture("rest_trades_response.json")["data"][0])
    assert (fill["exec_type"], fill["vol"], fill["price"]) == ("Maker", "10", "64000")

    fee = (await wire.keyed("/contract/private/trade-fee-rate", symbol="BTCUSDT")).data
    assert fee == {"symbol": "BTCUSDT", "taker_fee_rate": "0.0006", "maker_fee_rate": "0.0002"}
    mode = (await wire.keyed("/contract/private/get-position-mode")).data
    assert mode == {"position_mode": "hedge_mode"}


async def test_leverage_tp_sl_and_preset_routes(wire: Wire) -> None:
    leverage = await wire.signed(
        "/contract/private/submit-leverage",
        {"symbol": "BTCUSDT", "leverage": "5", "open_type": "isolated"},
    )
    assert_same_shape(leverage.data, fixture("rest_submit_leverage_response.json")["data"])
    assert (leverage.data["leverage"], leverage.data["open_type"]) == ("5", "isolated")

    entry = await wire.order(side=1, price="64000", size=2, leverage="5")
    entry_id = str(entry.data["order_id"])
    modified = await wire.signed(
        "/contract/private/modify-preset-plan-order",
        {"symbol": "BTCUSDT", "order_id": entry_id, "preset_take_profit_price": "70000"},
    )
    assert modified.data == {"order_id": entry_id}
    await wire.price("BTCUSDT", "64000")

    tp_sl = await wire.signed(
        "/contract/private/submit-tp-sl-order",
        {
            "symbol": "BTCUSDT",
            "type": "stop_loss",
            "side": 3,
            "trigger_price": "62000",
            "executive_price": "0",
            "price_type": 1,
            "plan_category": 2,
        },
    )
    assert_same_shape(tp_sl.data, fixture("rest_submit_tp_sl_order_response.json")["data"])
    moved = await wire.signed(
        "/contract/private/modify-tp-sl-order",
        {"symbol": "BTCUSDT", "order_id": tp_sl.data["order_id"], "trigger_price": "63000"},
    )
    assert moved.data == {"order_id": tp_sl.data["order_id"]}
    plans = (
        await wire.keyed(
            "/contract/private/current-plan-order", symbol="BTCUSDT", plan_type="profit_loss"
        )
    ).data
    assert sorted((p["type"], p["trigger_price"]) for p in plans) == [
        ("stop_loss", "63000"),
        ("take_profit", "70000"),
    ]
    cancelled = await wire.signed(
        "/contract/private/cancel-plan-order",
        {"symbol": "BTCUSDT", "order_id": tp_sl.data["order_id"]},
    )
    assert cancelled.data == {}
    assert (await wire.signed(
        "/contract/private/cancel-plan-order",
        {"symbol": "BTCUSDT", "order_id": tp_sl.data["order_id"]},
    )).code == 40035  # fmt: skip


async def test_modify_limit_order_and_cancel_orders(wire: Wire) -> None:
    placed = await wire.order(side=1, price="60000", size=2, client_order_id="mod1")
    modified = await wire.signed(
        "/contract/private/modify-limit-order",
        {"symbol": "BTCUSDT", "client_order_id": "mod1", "price": "61000", "size": 3},
    )
    assert modified.data == {"order_id": placed.data["order_id"], "client_order_id": "mod1"}
    await wire.order(side=4, price="70000", size=1)
    assert len((await wire.keyed("/contract/private/get-open-orders")).data) == 2
    assert (await wire.signed("/contract/private/cancel-orders", {"symbol": "BTCUSDT"})).data == {}
    assert (await wire.keyed("/contract/private/get-open-orders")).data == []
