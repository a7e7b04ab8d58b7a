"""The dashboard in real headless Chromium against the real stack (simulator, worker, app):
the app has a token, so the page first asks for it (a wrong one is refused, the right one
unlocks the page and rides every API call and the event stream as a bearer header, never in
a URL); a signal sent with the page's form is then followed live, without a reload, from
``submitted`` to an open position drawn with its zone, stop-loss and take-profit, then to
``closed`` at the take-profit with its realised PnL. Screenshots go to ``var/screenshots/``; with
``ZONEGUARD_DOCS_SCREENSHOT=1`` the open-position one is also copied to ``docs/``."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from dashboard_browser import chromium_missing_reason, chromium_page

MISSING = chromium_missing_reason()
if MISSING is not None:
    pytest.skip(MISSING, allow_module_level=True)

from dashboard_stack import APP_TOKEN, HISTORY_BARS, DashboardStack  # noqa: E402
from playwright.async_api import Locator, Page, Request, Route, expect  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "var" / "screenshots"
DOCS_SCREENSHOT = REPO / "docs" / "dashboard.png"
WAIT_MS = 15_000

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[DashboardStack]:
    built = DashboardStack(tmp_path)
    try:
        await built.start()
        yield built
    finally:
        await built.close()


async def unlock_with_the_token(page: Page) -> None:
    """The page asks for the app's token; a wrong one is refused and asked for again."""
    dialog = page.locator("#token-dialog")
    await expect(dialog).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#conn")).to_have_attribute("data-state", "down", timeout=WAIT_MS)
    await expect(page.locator("#token-error")).to_have_text("")
    await page.locator("#token-input").fill("not-the-token")
    await page.locator("#token-submit").click()
    await expect(page.locator("#token-error")).to_contain_text("refused", timeout=WAIT_MS)
    await expect(dialog).to_be_visible()
    await page.screenshot(path=str(SCREENSHOTS / "dashboard-token.png"))
    await page.locator("#token-input").fill(APP_TOKEN)
    await page.locator("#token-submit").click()
    await expect(dialog).to_be_hidden(timeout=WAIT_MS)
    assert await page.evaluate("sessionStorage.getItem('zoneguard.token')") == APP_TOKEN


async def send_signal(page: Page, fields: dict[str, str], side: str) -> None:
    form = page.locator("#signal-form")
    for name, value in fields.items():
        await form.locator(f'input[name="{name}"]').fill(value)
    await form.locator(f"label.side-{side}").click()
    await form.locator("button[type=submit]").click()


async def accepted_order_id(page: Page) -> str:
    result = page.locator("#form-result")
    await expect(result).to_have_class("form-result field-wide ok", timeout=WAIT_MS)
    order_id = await result.get_attribute("data-order-id")
    assert order_id and order_id.startswith("order-"), order_id
    return order_id


def order_badge(page: Page, order_id: str) -> Locator:
    return page.locator(f'#orders-body tr[data-order-id="{order_id}"] .badge')


def position_badge(page: Page, order_id: str) -> Locator:
    return page.locator(f'#positions-body tr[data-position-id="{order_id}"] .badge')


def money_text(value: Decimal) -> str:
    """What the page shows for an amount: 2 places, half away from zero, signed, grouped."""
    rounded = value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    text = f"{abs(rounded):,.2f}"
    return f"+{text}" if rounded > 0 else f"\u2212{text}" if rounded < 0 else text


async def level_heights(page: Page, chart: str) -> dict[str, float]:
    """Vertical pixel of each drawn level, read from one rendering of the chart."""
    heights: dict[str, float] = await page.eval_on_selector(
        chart,
        """svg => {
            const y = (sel, attr) => Number(svg.querySelector(sel).getAttribute(attr));
            const zone = 'rect[data-level="zone"]';
            return {
                take_profit: y('line[data-level="take_profit"]', "y1"),
                zone_top: y(zone, "y"),
                zone_bottom: y(zone, "y") + y(zone, "height"),
                entry: y('line[data-level="entry"]', "y1"),
                stop_loss: y('line[data-level="stop_loss"]', "y1"),
            };
        }""",
    )
    return heights


async def test_dashboard_follows_a_signal_to_take_profit(
    stack: DashboardStack, tmp_path: Path
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    async with chromium_page(tmp_path / "chromium-profile") as (page, problems):
        api_requests: list[Request] = []
        page.on("request", lambda r: api_requests.append(r) if "/api/" in r.url else None)
        await page.goto(stack.app_url + "/")
        navigations: list[str] = []
        page.on(
            "framenavigated",
            lambda frame: navigations.append(frame.url) if frame == page.main_frame else None,
        )
        await page.evaluate("window.__sameDocument = true")
        await unlock_with_the_token(page)
        await expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=WAIT_MS)

        # A signal the app refuses: the error lands next to the field it names.
        await send_signal(
            page,
            {
                "entry_zone_min": "65000",
                "entry_zone_max": "65500",
                "stop_loss": "65200",
                "take_profit": "68000",
            },
            "long",
        )
        stop_loss_error = page.locator('.field-error[data-field="stop_loss"]')
        await expect(stop_loss_error).to_contain_text("below entry_zone_min", timeout=WAIT_MS)
        await expect(page.locator("#f-sl")).to_have_attribute("aria-invalid", "true")

        # A short on ETH far above the market: it stays waiting for its zone.
        await send_signal(
            page,
            {
                "symbol": "ETHUSDT",
                "entry_zone_min": "3200",
                "entry_zone_max": "3250",
                "stop_loss": "3320",
                "take_profit": "2900",
                "quantity": "0.5",
                "leverage": "5",
                "strategy": "range-fade",
            },
            "short",
        )
        waiting_id = await accepted_order_id(page)
        await expect(order_badge(page, waiting_id)).to_have_attribute(
            "data-state", "submitted", timeout=WAIT_MS
        )

        # The seed's long on BTC: zone 65000-65500, SL 64000, TP 68000 (market at 66000).
        await send_signal(
            page,
            {
                "symbol": "BTCUSDT",
                "entry_zone_min": "65000",
                "entry_zone_max": "65500",
                "stop_loss": "64000",
                "take_profit": "68000",
                "quantity": "0.01",
                "leverage": "10",
                "strategy": "high_conviction",
            },
            "long",
        )
        order_id = await accepted_order_id(page)
        assert order_id != waiting_id
        badge = order_badge(page, order_id)
        await expect(badge).to_have_attribute("data-state", "submitted", timeout=WAIT_MS)

        await stack.price("BTCUSDT", "65800", "65400")  # into the zone: a post-only buy
        await expect(badge).to_have_attribute("data-state", "placed", timeout=WAIT_MS)
        await stack.price("BTCUSDT", "65300", "65250")  # trades through it: filled
        await expect(badge).to_have_attribute("data-state", "filled", timeout=WAIT_MS)
        await expect(position_badge(page, order_id)).to_have_attribute(
            "data-state", "open", timeout=WAIT_MS
        )
        await expect(position_badge(page, order_id)).to_have_text("open")

        # The chart shows this position with its levels, in the right vertical order.
        chart = f'#chart svg[data-order-id="{order_id}"]'
        await expect(page.locator(f'{chart} line[data-level="entry"]')).to_have_count(
            1, timeout=WAIT_MS
        )
        zone = page.locator(f'{chart} rect[data-level="zone"]')
        await expect(zone).to_have_attribute("data-min", "65000")
        await expect(zone).to_have_attribute("data-max", "65500")
        stop_line = page.locator(f'{chart} line[data-level="stop_loss"]')
        take_line = page.locator(f'{chart} line[data-level="take_profit"]')
        await expect(stop_line).to_have_attribute("data-price", "64000")
        await expect(take_line).to_have_attribute("data-price", "68000")
        bars = int(await page.locator(chart).get_attribute("data-bars") or 0)
        assert bars >= HISTORY_BARS, f"the chart drew {bars} bars"
        y = await level_heights(page, chart)
        assert (
            y["take_profit"] < y["zone_top"] <= y["entry"] <= y["zone_bottom"] < y["stop_loss"]
        ), y
        await expect(page.locator('#chart-caption [data-testid="chart-order"]')).to_have_attribute(
            "data-order-id", order_id
        )
        await expect(page.locator("#timeline li[data-state=filled]")).to_have_count(
            1, timeout=WAIT_MS
        )

        open_shot = SCREENSHOTS / "dashboard-open.png"
        await page.screenshot(path=str(open_shot), full_page=True)
        assert open_shot.stat().st_size > 20_000

        # Take-profit: the position closes, with its PnL, still without a reload.
        await stack.price("BTCUSDT", "66500", "67500", "68010")
        await expect(badge).to_have_attribute("data-state", "closed", timeout=WAIT_MS)
        await expect(position_badge(page, order_id)).to_have_attribute(
            "data-state", "closed", timeout=WAIT_MS
        )
        positions = (await stack.app_get("/api/positions"))["positions"]
        position = next(p for p in positions if p["id"] == order_id)
        assert position["close_reason"] == "take_profit"
        pnl = Decimal(position["realized_pnl"])
        assert pnl > 0
        row = page.locator(f'#positions-body tr[data-position-id="{order_id}"]')
        await expect(row.locator('[data-testid="pnl"]')).to_have_text(money_text(pnl))
        await expect(row).to_contain_text("take profit")
        await expect(page.locator("#kpi-pnl")).to_have_text(money_text(pnl), timeout=WAIT_MS)
        await expect(page.locator(f'{chart} line[data-level="exit"]')).to_have_count(
            1, timeout=WAIT_MS
        )
        await expect(order_badge(page, waiting_id)).to_have_attribute("data-state", "submitted")

        closed_shot = SCREENSHOTS / "dashboard-closed.png"
        await page.screenshot(path=str(closed_shot), full_page=True)

        assert await page.evaluate("window.__sameDocument") is True, "the page was reloaded"
        assert navigations == [], navigations
        refused = ("status of 422", "status of 401")  # the refused signal, the refused tokens
        assert [p for p in problems if not any(r in p for r in refused)] == [], problems
        # The token rode as a header on every call once given (the event stream's too), and
        # never in a URL.
        assert all(APP_TOKEN not in r.url for r in api_requests)
        bearer = f"Bearer {APP_TOKEN}"
        unlocked = api_requests[
            [r.headers.get("authorization") for r in api_requests].index(bearer) :
        ]
        assert {r.headers.get("authorization") for r in unlocked} == {bearer}
        assert any(r.url.endswith("/api/events") for r in unlocked)

        # A reload in the same tab keeps the token: no second prompt.
        await page.reload()
        await expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
        await expect(page.locator("#token-dialog")).to_be_hidden()

    if os.environ.get("ZONEGUARD_DOCS_SCREENSHOT") == "1":
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(open_shot, DOCS_SCREENSHOT)


async def test_the_chart_draws_each_rung_the_moving_stop_and_each_partial_exit(
    stack: DashboardStack, tmp_path: Path
) -> None:
    """Issue 9 on the page: a laddered signal (TP1 50 %, TP2 50 %, break-even after TP1)
    drawn rung by rung; after TP1 its rung is drawn closed, a marker sits where it filled,
    and the stop line moves to break-even; after TP2 the position is closed."""
    ladder = {
        "symbol": "BTCUSDT",
        "side": "long",
        "entry_zone_min": "65000",
        "entry_zone_max": "65500",
        "quantity": "0.01",
        "leverage": "10",
        "stop_loss": "64000",
        "take_profits": [
            {"price": "66000", "size_percent": "50"},
            {"price": "67000", "size_percent": "50"},
        ],
        "break_even": {"after_take_profit": 1},
    }
    async with chromium_page(tmp_path / "chromium-profile") as (page, problems):
        await page.goto(stack.app_url + "/")
        await unlock_with_the_token(page)
        await expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
        order_id = (await stack.app_post("/api/signals", ladder))["id"]
        badge = order_badge(page, order_id)
        await expect(badge).to_have_attribute("data-state", "submitted", timeout=WAIT_MS)
        await page.locator(f'#orders-body tr[data-order-id="{order_id}"]').click()
        chart = f'#chart svg[data-order-id="{order_id}"]'
        rung = lambda i: page.locator(f'{chart} line[data-level="take_profit_{i}"]')  # noqa: E731
        await expect(rung(1)).to_have_attribute("data-price", "66000", timeout=WAIT_MS)
        await expect(rung(2)).to_have_attribute("data-price", "67000")
        await expect(page.locator(f'{chart} line[data-level="take_profit"]')).to_have_count(0)

        await stack.price("BTCUSDT", "65800", "65400", "65300", "65250")
        await expect(badge).to_have_attribute("data-state", "filled", timeout=WAIT_MS)
        await stack.price("BTCUSDT", "65800", "66010")  # TP1
        await expect(rung(1)).to_have_attribute("data-state", "closed", timeout=WAIT_MS)
        await expect(rung(2)).to_have_attribute("data-state", "waiting")
        stop = page.locator(f'{chart} line[data-level="stop_loss"]')
        await expect(stop).to_have_attribute("data-moved", "break_even", timeout=WAIT_MS)
        detail = await stack.app_get(f"/api/orders/{order_id}")
        await expect(stop).to_have_attribute("data-price", detail["exit_progress"]["stop_loss"])
        assert Decimal(detail["exit_progress"]["stop_loss"]) >= Decimal(detail["entry_price"])
        partial = page.locator(f'{chart} path[data-marker="marker-partial"]')
        await expect(partial).to_have_count(1, timeout=WAIT_MS)
        await expect(partial).to_have_attribute("data-index", "1")
        await page.screenshot(path=str(SCREENSHOTS / "dashboard-ladder.png"), full_page=True)

        await stack.price("BTCUSDT", "66500", "67010")  # TP2
        await expect(badge).to_have_attribute("data-state", "closed", timeout=WAIT_MS)
        await expect(rung(2)).to_have_attribute("data-state", "closed", timeout=WAIT_MS)
        refused = ("status of 401",)  # the refused token
        assert [p for p in problems if not any(r in p for r in refused)] == [], problems


async def test_the_chart_draws_each_entry_zone_and_each_zones_fill(
    stack: DashboardStack, tmp_path: Path
) -> None:
    """Several entry zones on the page: one band per zone (not their span), each following
    its zone's state as the worker enters it (the callbacks' ``entry_index``), a marker at
    each zone's fill, the entry line at the position's average, and the orders table
    listing the zones; the take-profit then closes all that filled."""
    zoned = {
        "symbol": "BTCUSDT",
        "side": "long",
        "entry_zones": [
            {"min": "65200", "max": "65500", "size_percent": "50"},
            {"min": "64800", "max": "65000", "size_percent": "50"},
        ],
        "quantity": "0.01",
        "leverage": "10",
        "stop_loss": "64000",
        "take_profit": "68000",
    }
    async with chromium_page(tmp_path / "chromium-profile") as (page, problems):
        await page.goto(stack.app_url + "/")
        await unlock_with_the_token(page)
        await expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
        order_id = (await stack.app_post("/api/signals", zoned))["id"]
        badge = order_badge(page, order_id)
        await expect(badge).to_have_attribute("data-state", "submitted", timeout=WAIT_MS)
        row = page.locator(f'#orders-body tr[data-order-id="{order_id}"]')
        await row.click()
        chart = f'#chart svg[data-order-id="{order_id}"]'
        band = lambda k: page.locator(f'{chart} rect[data-level="entry_zone_{k}"]')  # noqa: E731
        await expect(band(1)).to_have_attribute("data-min", "65200", timeout=WAIT_MS)
        await expect(band(1)).to_have_attribute("data-max", "65500")
        await expect(band(2)).to_have_attribute("data-min", "64800")
        await expect(band(2)).to_have_attribute("data-max", "65000")
        for k in (1, 2):
            await expect(band(k)).to_have_attribute("data-share", "50")
            await expect(band(k)).to_have_attribute("data-state", "waiting")
        await expect(page.locator(f'{chart} rect[data-level="zone"]')).to_have_count(0)
        tops = await page.eval_on_selector(
            chart,
            """svg => [1, 2].map(k => {
                const r = svg.querySelector(`rect[data-level="entry_zone_${k}"]`);
                return [Number(r.getAttribute("y")), Number(r.getAttribute("height"))];
            })""",
        )
        (top_1, height_1), (top_2, _) = tops
        assert top_1 + height_1 < top_2, f"zone 1 is drawn above zone 2, apart: {tops}"
        zones_cell = row.locator("td.zones div")
        await expect(zones_cell).to_have_count(2)
        await expect(zones_cell.nth(0)).to_have_text("65,200 – 65,500 50%")
        await expect(zones_cell.nth(1)).to_have_text("64,800 – 65,000 50%")

        # Zone 1 (a post-only buy at 65400, traded through), then zone 2 once the position
        # exists (at 64900).
        for k, path in ((1, ("65400", "65300", "65250")), (2, ("64900", "64850", "64800"))):
            await stack.price("BTCUSDT", path[0])
            await expect(band(k)).to_have_attribute("data-state", "placed", timeout=WAIT_MS)
            await stack.price("BTCUSDT", *path[1:])
            await expect(band(k)).to_have_attribute("data-state", "filled", timeout=WAIT_MS)
            await expect(badge).to_have_attribute("data-state", "filled")
        fills = page.locator(f'{chart} path[data-marker="marker-zone-fill"]')
        await expect(fills).to_have_count(2, timeout=WAIT_MS)
        await expect(fills.nth(0)).to_have_attribute("data-index", "1")
        await expect(fills.nth(1)).to_have_attribute("data-index", "2")
        entry_line = page.locator(f'{chart} line[data-level="entry"]')
        await expect(entry_line).to_have_attribute("data-price", "65150", timeout=WAIT_MS)
        await expect(zones_cell.nth(1)).to_have_attribute("data-state", "filled")
        await expect(position_badge(page, order_id)).to_have_attribute("data-state", "open")
        await page.screenshot(path=str(SCREENSHOTS / "dashboard-zones.png"), full_page=True)

        await stack.price("BTCUSDT", "66000", "67000", "68010")  # the take-profit, all 10
        await expect(badge).to_have_attribute("data-state", "closed", timeout=WAIT_MS)
        await expect(position_badge(page, order_id)).to_have_attribute(
            "data-state", "closed", timeout=WAIT_MS
        )
        await expect(band(2)).to_have_attribute("data-state", "filled")
        refused = ("status of 401",)  # the refused token
        assert [p for p in problems if not any(r in p for r in refused)] == [], problems


STATIC = REPO / "src" / "zoneguard" / "app" / "static"
PAGE_ORIGIN = "http://dashboard.invalid"
"""A name that never resolves: every request to it is answered from disk by the test."""


async def serve_static_from_disk(page: Page) -> None:
    """Answer ``/static/*`` from the source tree and anything else with an empty page, so
    the page's own modules run without any server (and nothing leaves the machine)."""

    async def answer(route: Route) -> None:
        path = route.request.url.removeprefix(PAGE_ORIGIN)
        if path.startswith("/static/"):
            file = (STATIC / path.removeprefix("/static/")).resolve()
            assert file.is_relative_to(STATIC), path
            await route.fulfill(path=str(file), content_type="text/javascript")
        elif path in ("/", ""):
            await route.fulfill(
                body="<!doctype html><title>modules</title>", content_type="text/html"
            )
        else:
            await route.abort()

    await page.route("**/*", answer)
    await page.goto(PAGE_ORIGIN + "/")


async def test_amounts_are_summed_and_shown_exactly(tmp_path: Path) -> None:
    """Realised PnL is summed from decimal strings without binary floats (0.1 + 0.2 is
    0.3), rounded half away from zero and grouped the way the tables show it."""
    async with chromium_page(tmp_path / "chromium-profile") as (page, problems):
        await serve_static_from_disk(page)
        results = await page.evaluate(
            """async () => {
                const d = await import("/static/js/decimal.js");
                return {
                    sum: d.sumDecimals(["0.1", "0.2"]),
                    sumMixed: d.sumDecimals(["26.099", "-1.5", null, "", 0.001]),
                    bigSum: d.sumDecimals(["12345678901234567.89", "0.11"]),
                    money: [d.formatMoney("26.099"), d.formatMoney("-0.005"), d.formatMoney("0"),
                            d.formatMoney("1234567.125")],
                    price: [d.formatPrice("65250.000000000000000000"), d.formatPrice("0.00001234"),
                            d.formatPrice("1E+2"), d.formatPrice(null), d.formatPrice("abc")],
                    sign: [d.signOf("-0.0"), d.signOf("3"), d.signOf("-2")],
                };
            }"""
        )
        assert problems == [], problems
    assert results == {
        "sum": "0.3",
        "sumMixed": "24.600",
        "bigSum": "12345678901234568.00",
        "money": ["+26.10", "\u22120.01", "0.00", "+1,234,567.13"],
        "price": ["65,250", "0.00001234", "100", "\u2013", "\u2013"],
        "sign": [0, 1, -1],
    }


async def test_sse_payloads_of_the_app_are_understood(tmp_path: Path) -> None:
    """The page reads the app's feed frames (``event: order`` / ``position`` with the row's
    JSON) and its list answers into the rows it draws."""
    async with chromium_page(tmp_path / "chromium-profile") as (page, problems):
        await serve_static_from_disk(page)
        results = await page.evaluate(
            """async () => {
                const m = await import("/static/js/model.js");
                const order = {id: "order-1", status: "filled", symbol: "BTCUSDT", side: "long",
                    entry_zone_min: "65000", entry_zone_max: "65500", stop_loss: "64000",
                    take_profit: "68000", entry_price: "65400", created_ms: 1700000000000};
                const position = {id: "order-1", order_id: "order-1", status: "closed",
                    entry_price: "65400", exit_price: "68009.9", realized_pnl: "26.099",
                    close_reason: "take_profit", opened_ms: 1700000001000,
                    closed_ms: 1700000002000};
                const placed = {...order, status: "placed"};
                const o = m.classifyEvent("order", order);
                const p = m.classifyEvent("position", position);
                const hello = m.classifyEvent("message", {at_ms: 1});
                const orderRow = m.normaliseOrder(o.raw);
                const positionRow = m.normalisePosition(p.raw);
                return {
                    kinds: [o.kind, p.kind, hello.kind],
                    order: [orderRow.id, orderRow.state, orderRow.zoneMin, orderRow.entryPrice,
                            orderRow.createdAt],
                    position: [positionRow.id, positionRow.state, positionRow.realizedPnl,
                               positionRow.reason, positionRow.closedAt],
                    lists: [m.listOf({orders: [order]}, "orders").length,
                            m.listOf([position], "positions").length],
                    held: [m.holdsPosition("filled"), m.holdsPosition("submitted"),
                           m.isWorking("submitted"), m.isTerminal("closed")],
                    times: [m.toMillis("2025-01-01T00:00:00Z"), m.toMillis(1700000000),
                            m.toMillis(null)],
                    // A list read before an event must not put the older state back.
                    stale: m.newer(m.normaliseOrder({...order, version: 3}),
                                   m.normaliseOrder({...placed, version: 2})).state,
                    fresh: m.newer(m.normaliseOrder({...placed, version: 2}),
                                   m.normaliseOrder({...order, version: 3})).state,
                };
            }"""
        )
        assert problems == [], problems
    assert results == {
        "kinds": ["order", "position", None],
        "order": ["order-1", "filled", "65000", "65400", 1700000000000],
        "position": ["order-1", "closed", "26.099", "take_profit", 1700000002000],
        "lists": [1, 1],
        "held": [True, False, True, True],
        "times": [1735689600000, 1700000000000, None],
        "stale": "filled",
        "fresh": "filled",
    }


async def test_the_event_stream_is_framed_from_fetched_chunks(tmp_path: Path) -> None:
    """The page reads ``/api/events`` with fetch (to send the bearer header): events split
    across chunks, CRLF line ends, comments and ``retry:`` lines are framed as EventSource
    would."""
    async with chromium_page(tmp_path / "chromium-profile") as (page, problems):
        await serve_static_from_disk(page)
        chunks = [
            "retry: 2000\nevent: hel",
            'lo\ndata: {"at_ms": 1}\n\n: keep-alive\n\n',
            'event: order\r\ndata: {"id":',
            '"o-1"}\r\n\r\n',
            'event: position\ndata: {"id": "p"}\n\ndata: plain\ndata: two\n\n',
            'event: order\ndata: {"cut": true}',
        ]
        seen = await page.evaluate(
            """async (chunks) => {
                const a = await import("/static/js/api.js");
                const encoder = new TextEncoder();
                const body = new ReadableStream({
                    start(controller) {
                        for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
                        controller.close();
                    },
                });
                const seen = [];
                await a.readEvents(body, (name, text) => seen.push([name, text]));
                return seen;
            }""",
            chunks,
        )
        assert problems == [], problems
    assert seen == [
        ["hello", '{"at_ms": 1}'],
        ["order", '{"id":"o-1"}'],
        ["position", '{"id": "p"}'],
        ["message", "plain\ntwo"],
    ]  # the last event never ended: not delivered
