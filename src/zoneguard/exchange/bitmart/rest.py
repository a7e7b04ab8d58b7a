"""BitMart USDT-M Futures V2 REST client: one pooled keep-alive session, signed as sent.

Methods return the ``data`` of the envelope in BitMart's own shapes (``parse.py`` turns
them into domain types); every failure is a typed exception from ``codes.py``. The
client honours BitMart's rate-limit headers per endpoint so a burst waits instead of
earning a 429, and it never puts credentials into a log line or an exception message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Mapping
from typing import Any

import aiohttp
import orjson

from zoneguard import __version__
from zoneguard.exchange.bitmart.codes import TIMESTAMP_OUTSIDE_WINDOW, unwrap
from zoneguard.exchange.bitmart.http1 import ConnectionLost, ProtocolError, RawReply
from zoneguard.exchange.bitmart.lane import OrderLane
from zoneguard.exchange.bitmart.signing import keyed_headers, signed_headers
from zoneguard.exchange.errors import (
    AuthenticationFailed,
    ExchangeError,
    InvalidRequest,
    UnknownOutcome,
)

log = logging.getLogger(__name__)

JsonDict = dict[str, Any]
USER_AGENT = f"zoneguard/{__version__}"

# Paths (PROTOCOL §5-§7).
DETAILS = "/contract/public/details"
DEPTH = "/contract/public/depth"
KLINE = "/contract/public/kline"
MARKET_TRADE = "/contract/public/market-trade"
SYSTEM_TIME = "/system/time"
ASSETS_DETAIL = "/contract/private/assets-detail"
POSITION = "/contract/private/position"
POSITION_V2 = "/contract/private/position-v2"
SUBMIT_LEVERAGE = "/contract/private/submit-leverage"
SUBMIT_ORDER = "/contract/private/submit-order"
CANCEL_ORDER = "/contract/private/cancel-order"
CANCEL_ORDERS = "/contract/private/cancel-orders"
ORDER = "/contract/private/order"
ORDER_HISTORY = "/contract/private/order-history"
OPEN_ORDERS = "/contract/private/get-open-orders"
TRADES = "/contract/private/trades"
CURRENT_PLAN_ORDER = "/contract/private/current-plan-order"
SUBMIT_TP_SL_ORDER = "/contract/private/submit-tp-sl-order"
CANCEL_PLAN_ORDER = "/contract/private/cancel-plan-order"
MODIFY_PRESET_PLAN_ORDER = "/contract/private/modify-preset-plan-order"


class RateLimitGate:
    """Per-endpoint pause derived from ``X-BM-RateLimit-*`` headers.

    BitMart's ``Remaining`` header counts requests already *used* in the window; once
    used >= limit the next request on that endpoint waits a full window (``Reset`` s).
    """

    def __init__(self) -> None:
        self._blocked_until: dict[str, float] = {}

    def delay_for(self, path: str) -> float:
        until = self._blocked_until.get(path)
        if until is None:
            return 0.0
        remaining = until - time.monotonic()
        if remaining <= 0:
            del self._blocked_until[path]
            return 0.0
        return remaining

    async def wait(self, path: str) -> None:
        delay = self.delay_for(path)
        if delay > 0:
            log.info("rate limit: waiting %.3fs before %s", delay, path)
            await asyncio.sleep(delay)

    def block(self, path: str, seconds: float) -> None:
        until = time.monotonic() + seconds
        self._blocked_until[path] = max(until, self._blocked_until.get(path, 0.0))

    def observe(self, path: str, headers: Mapping[str, str]) -> float | None:
        """Record one reply's headers; returns the window length if it said one."""
        used = _header_number(headers, "X-BM-RateLimit-Remaining")
        limit = _header_number(headers, "X-BM-RateLimit-Limit")
        reset = _header_number(headers, "X-BM-RateLimit-Reset")
        if used is not None and limit is not None and reset is not None and used >= limit:
            self.block(path, reset)
        return reset


def _header_number(headers: Mapping[str, str], name: str) -> float | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return float(raw)
    except ValueError:
        return None


class BitMartRestClient:
    """Typed access to the futures REST endpoints the exchange port needs."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_secret: str,
        api_memo: str,
        *,
        timeout_s: float = 10.0,
        session: aiohttp.ClientSession | None = None,
        system_url: str | None = None,
        lane: OrderLane | None = None,
    ) -> None:
        """``lane``: warm connections for :meth:`submit_order_now` (None: it always
        declines and every request goes through the aiohttp session)."""
        self._base_url = base_url.rstrip("/")
        self._system_url = (system_url or base_url).rstrip("/")
        self._api_key = api_key
        self._api_secret = api_secret
        self._api_memo = api_memo
        self._timeout_s = timeout_s
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session = session
        self._owns_session = session is None
        self._lane = lane
        self.gate = RateLimitGate()
        self.clock_offset_ms = 0
        """Server clock minus ours, applied to every signed timestamp."""

    def __repr__(self) -> str:
        return f"BitMartRestClient(base_url={self._base_url!r})"

    @property
    def base_url(self) -> str:
        return self._base_url

    # -- session ------------------------------------------------------------------------

    def _ensure_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = new_session()
            self._owns_session = True
        return self._session

    async def close(self) -> None:
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.clock_offset_ms

    # -- transport ----------------------------------------------------------------------

    async def _get(self, path: str, params: Mapping[str, object], *, keyed: bool) -> Any:
        query = {k: str(v) for k, v in params.items() if v is not None}
        headers = keyed_headers(self._api_key) if keyed else {}
        return await self._send("GET", self._base_url, path, headers, query=query)

    async def _post(self, path: str, body: Mapping[str, object]) -> Any:
        # Serialise once: these exact bytes are both signed and sent.
        payload = orjson.dumps(dict(body))
        return await self._send("POST", self._base_url, path, None, payload=payload)

    def _post_now(self, path: str, body: Mapping[str, object]) -> Awaitable[Any] | None:
        """Sign and write ``POST path`` on a warm lane connection before returning; the
        awaitable gives what :meth:`_post` would. None, with nothing sent, when there is no
        lane, no free connection, or the rate-limit gate says wait: use :meth:`_post`."""
        lane = self._lane
        if lane is None or self.gate.delay_for(path) > 0:
            return None
        payload = orjson.dumps(dict(body))
        headers = signed_headers(
            self._api_key, self._api_secret, self._api_memo, self.now_ms(), payload.decode()
        )
        reply = lane.try_post(path, headers, payload, self._timeout_s)
        return None if reply is None else self._lane_reply(path, reply, payload)

    async def _lane_reply(self, path: str, reply: asyncio.Future[RawReply], payload: bytes) -> Any:
        context = f"POST {path}"
        try:
            answer = await reply
        except TimeoutError as exc:
            raise UnknownOutcome(f"{context}: no reply within {self._timeout_s}s") from exc
        except (ConnectionLost, ProtocolError, OSError) as exc:
            raise UnknownOutcome(f"{context}: {type(exc).__name__}: {exc}") from exc
        reset = self.gate.observe(path, answer.headers)
        if answer.status == 429:
            self.gate.block(path, reset if reset is not None else 2.0)
        try:
            return unwrap(answer.status, answer.body, context=context, retry_after_s=reset)
        except AuthenticationFailed as exc:
            if exc.code != TIMESTAMP_OUTSIDE_WINDOW:
                raise
            await self._recalibrate(exc)
            return await self._send("POST", self._base_url, path, None, payload=payload, again=True)

    async def _recalibrate(self, refusal: AuthenticationFailed) -> None:
        """Our clock drifted out of the server's window: measure it again (the refused
        request was not executed and goes once more with a fresh timestamp)."""
        log.warning("bitmart refused our timestamp (%s): measuring the clock again", refusal)
        try:
            offset = await self.calibrate_clock()
        except ExchangeError as exc:
            raise refusal from exc
        log.warning("bitmart clock offset now %d ms", offset)

    async def _send(
        self,
        method: str,
        base: str,
        path: str,
        headers: dict[str, str] | None,
        *,
        query: Mapping[str, str] | None = None,
        payload: bytes | None = None,
        again: bool = False,
    ) -> Any:
        """One request; a signed one refused for its timestamp is sent once more after the
        clock is measured again (``again``: this is that second try)."""
        await self.gate.wait(path)
        session = self._ensure_session()
        context = f"{method} {path}"
        if payload is not None:
            # Timestamp taken after any rate-limit wait so it is fresh when it leaves.
            headers = signed_headers(
                self._api_key, self._api_secret, self._api_memo, self.now_ms(), payload.decode()
            )
        request_headers = {"User-Agent": USER_AGENT, **(headers or {})}
        try:
            async with session.request(
                method,
                base + path,
                params=query or None,
                data=payload,
                headers=request_headers,
                timeout=self._timeout,
            ) as response:
                body = await response.read()
                status = response.status
                reset = self.gate.observe(path, response.headers)
        except TimeoutError as exc:
            raise UnknownOutcome(f"{context}: no reply within {self._timeout_s}s") from exc
        except aiohttp.ClientError as exc:
            raise UnknownOutcome(f"{context}: {type(exc).__name__}: {exc}") from exc
        if status == 429:
            self.gate.block(path, reset if reset is not None else 2.0)
        try:
            return unwrap(status, body, context=context, retry_after_s=reset)
        except AuthenticationFailed as exc:
            if exc.code != TIMESTAMP_OUTSIDE_WINDOW or payload is None or again:
                raise
            await self._recalibrate(exc)
        return await self._send(method, base, path, headers, payload=payload, again=True)

    # -- public -------------------------------------------------------------------------

    async def system_time_ms(self) -> int:
        data = await self._send("GET", self._system_url, SYSTEM_TIME, None)
        return int(_as_dict(data, SYSTEM_TIME)["server_time"])

    async def calibrate_clock(self) -> int:
        """Measure the server clock offset (mid-point of the round trip) and keep it."""
        before = time.time() * 1000
        server_ms = await self.system_time_ms()
        after = time.time() * 1000
        self.clock_offset_ms = int(server_ms - (before + after) / 2)
        return self.clock_offset_ms

    async def contract_details(self, symbol: str | None = None) -> list[JsonDict]:
        data = await self._get(DETAILS, {"symbol": symbol}, keyed=False)
        return _as_list(_as_dict(data, DETAILS).get("symbols"), DETAILS)

    async def depth(self, symbol: str) -> JsonDict:
        return _as_dict(await self._get(DEPTH, {"symbol": symbol}, keyed=False), DEPTH)

    async def market_trades(self, symbol: str, limit: int = 1) -> list[JsonDict]:
        """The latest public trades of ``symbol``, newest first."""
        params = {"symbol": symbol, "limit": limit}
        return _as_list(await self._get(MARKET_TRADE, params, keyed=False), MARKET_TRADE)

    async def kline(
        self, symbol: str, step_minutes: int, start_s: int, end_s: int
    ) -> list[JsonDict]:
        params = {"symbol": symbol, "step": step_minutes, "start_time": start_s, "end_time": end_s}
        return _as_list(await self._get(KLINE, params, keyed=False), KLINE)

    # -- account and positions ----------------------------------------------------------

    async def assets_detail(self) -> list[JsonDict]:
        return _as_list(await self._get(ASSETS_DETAIL, {}, keyed=True), ASSETS_DETAIL)

    async def position_v2(self, symbol: str | None = None) -> list[JsonDict]:
        return _as_list(await self._get(POSITION_V2, {"symbol": symbol}, keyed=True), POSITION_V2)

    async def position(self, symbol: str | None = None) -> list[JsonDict]:
        return _as_list(await self._get(POSITION, {"symbol": symbol}, keyed=True), POSITION)

    async def submit_leverage(self, symbol: str, leverage: str, open_type: str) -> JsonDict:
        body = {"symbol": symbol, "leverage": leverage, "open_type": open_type}
        return _as_dict(await self._post(SUBMIT_LEVERAGE, body), SUBMIT_LEVERAGE)

    # -- orders -------------------------------------------------------------------------

    async def submit_order(self, body: Mapping[str, object]) -> JsonDict:
        """Returns ``{"order_id": str, "price": str | None}``.

        BitMart sends ``order_id`` as a JSON number here (a string everywhere else);
        it is normalised to ``str`` so ids never pass through a float.
        """
        return _submitted(await self._post(SUBMIT_ORDER, body))

    def submit_order_now(self, body: Mapping[str, object]) -> Awaitable[JsonDict] | None:
        """:meth:`submit_order` with the request written before this returns (on the
        order lane); None, with nothing sent, when the lane cannot take it now."""
        pending = self._post_now(SUBMIT_ORDER, body)
        return None if pending is None else _submitted_later(pending)

    async def cancel_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> None:
        # BitMart cancels EVERY order of the symbol when both ids are missing: refuse that.
        if not order_id and not client_order_id:
            raise InvalidRequest("cancel_order needs an order_id or a client_order_id")
        body: JsonDict = {"symbol": symbol}
        if order_id:
            body["order_id"] = order_id
        else:
            body["client_order_id"] = client_order_id
        await self._post(CANCEL_ORDER, body)

    async def cancel_orders(self, symbol: str) -> None:
        await self._post(CANCEL_ORDERS, {"symbol": symbol})

    async def order(self, symbol: str, order_id: str) -> JsonDict:
        params = {"symbol": symbol, "order_id": order_id}
        return _as_dict(await self._get(ORDER, params, keyed=True), ORDER)

    async def order_history(
        self,
        symbol: str,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
        start_s: int | None = None,
        end_s: int | None = None,
    ) -> list[JsonDict]:
        params = {
            "symbol": symbol,
            "order_id": order_id,
            "client_order_id": client_order_id,
            "start_time": start_s,
            "end_time": end_s,
        }
        return _as_list(await self._get(ORDER_HISTORY, params, keyed=True), ORDER_HISTORY)

    async def open_orders(self, symbol: str | None = None) -> list[JsonDict]:
        return _as_list(await self._get(OPEN_ORDERS, {"symbol": symbol}, keyed=True), OPEN_ORDERS)

    async def trades(
        self,
        symbol: str,
        *,
        order_id: str | None = None,
        client_order_id: str | None = None,
        start_s: int | None = None,
        end_s: int | None = None,
    ) -> list[JsonDict]:
        params = {
            "symbol": symbol,
            "order_id": order_id,
            "client_order_id": client_order_id,
            "start_time": start_s,
            "end_time": end_s,
        }
        return _as_list(await self._get(TRADES, params, keyed=True), TRADES)

    # -- plan / TP-SL orders ------------------------------------------------------------

    async def current_plan_orders(
        self, symbol: str | None = None, *, plan_type: str | None = None
    ) -> list[JsonDict]:
        params = {"symbol": symbol, "plan_type": plan_type}
        data = await self._get(CURRENT_PLAN_ORDER, params, keyed=True)
        return _as_list(data, CURRENT_PLAN_ORDER)

    async def submit_tp_sl_order(self, body: Mapping[str, object]) -> str:
        data = _as_dict(await self._post(SUBMIT_TP_SL_ORDER, body), SUBMIT_TP_SL_ORDER)
        order_id = _id_text(data.get("order_id"))
        if order_id is None:
            raise UnknownOutcome(f"POST {SUBMIT_TP_SL_ORDER}: accepted without a readable order_id")
        return order_id

    async def cancel_plan_order(
        self, symbol: str, *, order_id: str | None = None, client_order_id: str | None = None
    ) -> None:
        if not order_id and not client_order_id:
            raise InvalidRequest("cancel_plan_order needs an order_id or a client_order_id")
        body: JsonDict = {"symbol": symbol}
        if order_id:
            body["order_id"] = order_id
        else:
            body["client_order_id"] = client_order_id
        await self._post(CANCEL_PLAN_ORDER, body)

    async def modify_preset_plan_order(self, body: Mapping[str, object]) -> JsonDict:
        data = await self._post(MODIFY_PRESET_PLAN_ORDER, body)
        return _as_dict(data, MODIFY_PRESET_PLAN_ORDER)


def new_session(*, limit: int = 32, keepalive_timeout_s: float = 30.0) -> aiohttp.ClientSession:
    """A keep-alive pooled session: the hot path must not pay a TLS handshake per order."""
    connector = aiohttp.TCPConnector(limit=limit, keepalive_timeout=keepalive_timeout_s)
    return aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": USER_AGENT},
        json_serialize=lambda obj: orjson.dumps(obj).decode(),
    )


def _submitted(data: object) -> JsonDict:
    order = _as_dict(data, SUBMIT_ORDER)
    order_id = _id_text(order.get("order_id"))
    if order_id is None:
        # Accepted (code 1000) but without a usable id: only a lookup can tell which.
        raise UnknownOutcome(f"POST {SUBMIT_ORDER}: accepted without a readable order_id")
    price = order.get("price")
    return {"order_id": order_id, "price": price if isinstance(price, str) else None}


async def _submitted_later(pending: Awaitable[Any]) -> JsonDict:
    return _submitted(await pending)


def _id_text(raw: object) -> str | None:
    """An exchange id as text. A float (orjson's answer beyond 64 bits) is refused: ids
    must stay exact, and "no id" makes the caller look the order up instead."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return str(raw)
    if isinstance(raw, str) and raw:
        return raw
    return None


def _as_dict(data: object, path: str) -> JsonDict:
    if data is None:
        return {}
    if isinstance(data, dict):
        return data
    raise UnknownOutcome(f"{path}: unexpected data shape {type(data).__name__}")


def _as_list(data: object, path: str) -> list[JsonDict]:
    if data is None:
        return []
    if isinstance(data, list) and all(isinstance(row, dict) for row in data):
        return data
    raise UnknownOutcome(f"{path}: unexpected data shape {type(data).__name__}")
