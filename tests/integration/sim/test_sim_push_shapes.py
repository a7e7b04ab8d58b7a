"""Every push carries exactly the keys and JSON value types of BitMart's sample."""

from __future__ import annotations

from typing import Any

from sim_wire import Wire, drain, fixture, recv_until, subscribe


def shape(value: Any) -> Any:
    """Keys and JSON types, recursively (a list is described by its first element)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def sample_symbol(sample: dict[str, Any]) -> str:
    data = sample["data"]
    symbol: str = (data[0] if isinstance(data, list) else data)["symbol"]
    return symbol


def assert_shape(push: dict[str, Any], sample_file: str, *, same_group: bool = True) -> None:
    """Same keys and types as the sample; with ``same_group``, also the sample's ``group``
    spelling (its symbol swapped for ours), throttle suffix included."""
    sample = fixture(sample_file)
    assert set(push) == {"group", "data"}
    assert shape(push["data"]) == shape(sample["data"]), sample_file
    if same_group:
        expected = sample["group"].replace(sample_symbol(sample), sample_symbol(push))
        assert push["group"] == expected, sample_file


async def public_push(wire: Wire, topic: str, group: str | None = None) -> dict[str, Any]:
    """Subscribe to ``topic``, move the price, return the first push grouped ``group``
    (default: the topic itself)."""
    expected = group or topic
    async with await wire.ws() as ws:
        await subscribe(ws, topic)
        await drain(ws)
        await wire.price("BTCUSDT", "65123.4")
        push = await recv_until(ws, lambda f: f.get("group") == expected)
    assert push["group"] == expected
    return push


async def test_ticker_push_shape_and_throttled_group(wire: Wire) -> None:
    push = await public_push(wire, "futures/ticker:BTCUSDT", "futures/ticker:BTCUSDT@100ms")
    assert_shape(push, "ws_futures_ticker_symbol_push.json")
    assert push["data"]["last_price"] == "65123.4"


async def test_all_symbols_ticker_push_shape(wire: Wire) -> None:
    push = await public_push(wire, "futures/ticker")
    assert_shape(push, "ws_futures_ticker_push.json")


async def test_kline_push_shape(wire: Wire) -> None:
    push = await public_push(wire, "futures/klineBin1D:BTCUSDT")
    assert_shape(push, "ws_futures_klineBin1D_push.json")
    push = await public_push(wire, "futures/klineBin1H:BTCUSDT")
    assert_shape(push, "ws_futures_klineBin1H_push.json")
    for timeframe in ("1m", "1W"):
        push = await public_push(wire, f"futures/klineBin{timeframe}:BTCUSDT")
        assert_shape(push, "ws_futures_klineBin1D_push.json", same_group=False)


async def test_depth_push_shape(wire: Wire) -> None:
    push = await public_push(wire, "futures/depth5:BTCUSDT")
    assert_shape(push, "ws_futures_depth5_push.json")
    assert len(push["data"]["depths"]) == 5


async def test_trade_push_shape(wire: Wire) -> None:
    push = await public_push(wire, "futures/trade:BTCUSDT")
    assert_shape(push, "ws_futures_trade_push.json")


async def test_private_push_shapes(wire: Wire) -> None:
    async with await wire.ws(private=True) as ws:
        await wire.login(ws)
        await subscribe(ws, "futures/order", "futures/position", "futures/asset:USDT")
        await wire.order(side=1, type="market", size=2)
        pushes = await drain(ws)
        await wire.order(side=1, price="60000", size=1)
        await wire.signed("/contract/private/cancel-orders", {"symbol": "BTCUSDT"})
        pushes += await drain(ws)

    orders = [p for p in pushes if p["group"] == "futures/order"]
    assert [p["data"][0]["action"] for p in orders] == [2, 1, 2, 3]  # submit, fill, submit, cancel
    sample = fixture("ws_futures_order_push_v2.json")["data"][0]
    for push in orders:
        (event,) = push["data"]
        expected = shape(sample)
        if event["order"]["deal_size"] == "0":
            expected["order"]["last_trade"] = "NoneType"  # null until the order's first fill
        assert shape(event) == expected
        assert (event["order"]["trigger_price"], event["order"]["trigger_price_type"]) == ("-", "-")
    last_trade = orders[1]["data"][0]["order"]["last_trade"]
    assert last_trade["fillQty"] == "2"
    assert last_trade["feeCcy"] == "USDT"
    assert last_trade["fee"].startswith("-")  # BitMart signs a paid fee negative

    positions = [p for p in pushes if p["group"] == "futures/position"]
    assert positions
    assert_shape(positions[0], "ws_futures_position_push.json")
    assets = [p for p in pushes if p["group"] == "futures/asset:USDT"]
    assert assets
    assert_shape(assets[0], "ws_futures_asset_push.json", same_group=False)
    assert assets[0]["data"]["currency"] == "USDT"


async def test_order_push_of_a_fired_stop_names_its_plan(wire: Wire) -> None:
    async with await wire.ws(private=True) as ws:
        await wire.login(ws)
        await subscribe(ws, "futures/order")
        await wire.order(side=1, price="64000", size=2, preset_stop_loss_price="63000")
        await wire.price("BTCUSDT", "64000")
        await drain(ws)
        await wire.price("BTCUSDT", "62900")
        pushes = await drain(ws)
    events = [p["data"][0] for p in pushes]
    assert [e["action"] for e in events] == [2, 1]
    order = events[1]["order"]
    assert (order["type"], order["side"], order["state"], order["deal_size"]) == (
        "stop_loss",
        3,
        4,
        "2",
    )
    assert order["plan_order_id"].isdigit()
    assert (order["trigger_price"], order["trigger_price_type"]) == ("63000", "last_price")
    assert shape(events[1]) == shape(fixture("ws_futures_order_push_v2.json")["data"][0])


async def test_cancel_push_of_a_partly_filled_order_repeats_its_last_trade(wire: Wire) -> None:
    """The fixture's cancel (action 3) push carries the order's last trade: so does ours."""
    async with await wire.ws(private=True) as ws:
        await wire.login(ws)
        await subscribe(ws, "futures/order")
        placed = await wire.order(side=1, price="64000", size=5)
        order_id = str(placed.data["order_id"])
        status, _ = await wire.control(
            "/_sim/fill", {"symbol": "BTCUSDT", "order_id": order_id, "contracts": 2}
        )
        assert status == 200
        await wire.signed(
            "/contract/private/cancel-order", {"symbol": "BTCUSDT", "order_id": order_id}
        )
        pushes = await drain(ws)
    events = [p["data"][0] for p in pushes]
    assert [e["action"] for e in events] == [2, 1, 3]
    fill_trade = events[1]["order"]["last_trade"]
    cancel = events[2]
    assert cancel["order"]["last_trade"] == fill_trade
    assert (fill_trade["fillQty"], fill_trade["fillPrice"]) == ("2", "64000")
    assert (cancel["order"]["state"], cancel["order"]["deal_size"]) == (4, "2")
    assert shape(cancel) == shape(fixture("ws_futures_order_push_v2.json")["data"][0])
    assert set(cancel["order"]) >= set(fixture("ws_futures_order_push.json")["data"][0]["order"])
