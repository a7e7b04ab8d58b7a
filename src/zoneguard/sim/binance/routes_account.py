"""Account endpoints: positions, account, balance, leverage, margin type, position mode,
commission, and the user data stream's listenKey.

Binance's defaults where the engine has its own: one-way mode (the simulator's Binance
venue starts there), leverage from the engine's default (10, where Binance's is 20).
The engine cannot change leverage or margin type while a position is open; Binance can
raise leverage then, the simulator refuses with -4161 (a simplification).
"""

from __future__ import annotations

from decimal import Decimal

from zoneguard.sim.binance import errors as e
from zoneguard.sim.binance import params as p
from zoneguard.sim.binance import shapes
from zoneguard.sim.binance.errors import BinanceError
from zoneguard.sim.binance.routing import Call, Route, contract_of
from zoneguard.sim.decimals import fmt
from zoneguard.sim.engine import MAINTENANCE_MARGIN_RATE
from zoneguard.sim.errors import SimError
from zoneguard.sim.model import HEDGE_MODE, LONG, ONE_WAY_MODE, SHORT, Position

OK = {"code": 200, "msg": "success"}
MAX_NOTIONAL = "1000000000"
MARGIN_TYPES = {"ISOLATED": "isolated", "CROSSED": "cross"}


def _flat(call: Call, symbol: str, position_type: int) -> Position:
    leverage, open_type = call.engine.leverage_setting(symbol)
    return Position(symbol, position_type, leverage, open_type)


def _rows(call: Call, symbol: str, *, v2: bool) -> list[dict[str, object]]:
    """v3: the positions held; v2: every symbol, flat ones too (LONG and SHORT rows in
    hedge mode, one BOTH row in one-way mode)."""
    engine = call.engine
    hedge = engine.position_mode == HEDGE_MODE
    rows = []
    for name in [symbol] if symbol else engine.symbols:
        by_type = {t: engine.position(name, t) for t in (LONG, SHORT)}
        held = {t: pos for t, pos in by_type.items() if pos is not None and pos.hold}
        if not v2:
            rows += [shapes.position_json(engine, pos, v2=False) for pos in held.values()]
        elif hedge:
            for t in (LONG, SHORT):
                shown = held.get(t) or _flat(call, name, t)
                rows.append(shapes.position_json(engine, shown, v2=True))
        else:
            shown = next(iter(held.values()), None) or _flat(call, name, LONG)
            rows.append(shapes.position_json(engine, shown, v2=True))
    return rows


def _symbol(call: Call) -> str:
    symbol = p.text(call.params, "symbol")
    if symbol:
        contract_of(call.engine, symbol)
    return symbol


def position_risk_v3(call: Call) -> object:
    return _rows(call, _symbol(call), v2=False)


def position_risk_v2(call: Call) -> object:
    return _rows(call, _symbol(call), v2=True)


def account(call: Call) -> object:
    return shapes.account_json(call.engine)


def balance(call: Call) -> object:
    return shapes.balance_json(call.engine)


def change_leverage(call: Call) -> object:
    symbol = p.required(call.params, "symbol")
    contract_of(call.engine, symbol)
    leverage = p.integer(call.params, "leverage")
    if leverage is None:
        raise e.missing("leverage")
    _, open_type = call.engine.leverage_setting(symbol)
    try:
        applied, _ = call.engine.set_leverage(symbol, Decimal(leverage), open_type)
    except SimError as err:
        raise e.from_engine(err) from None
    return {"leverage": int(applied), "maxNotionalValue": MAX_NOTIONAL, "symbol": symbol}


def change_margin_type(call: Call) -> object:
    symbol = p.required(call.params, "symbol")
    contract_of(call.engine, symbol)
    wanted = MARGIN_TYPES.get(p.required(call.params, "marginType"))
    if wanted is None:
        raise BinanceError(e.ILLEGAL_CHARS, "Invalid marginType.")
    leverage, current = call.engine.leverage_setting(symbol)
    if wanted == current:
        raise BinanceError(e.NO_NEED_TO_CHANGE_MARGIN_TYPE, "No need to change margin type.")
    try:
        call.engine.set_leverage(symbol, leverage, wanted)
    except SimError:
        raise BinanceError(
            e.MARGIN_TYPE_CANNOT_CHANGE_WITH_POSITION,
            "Margin type cannot be changed if there exists position.",
        ) from None
    return OK


def leverage_bracket(call: Call) -> object:
    """One bracket per symbol up to its maximum leverage: the engine keeps one maintenance
    rate and no tiers (Binance has several; the shape is the docs' own)."""
    symbol = _symbol(call)
    rows = []
    for name in [symbol] if symbol else call.engine.symbols:
        contract = call.engine.contract(name)
        bracket = {
            "bracket": 1,
            "initialLeverage": contract.max_leverage,
            "notionalCap": int(MAX_NOTIONAL),
            "notionalFloor": 0,
            "maintMarginRatio": float(MAINTENANCE_MARGIN_RATE),
            "cum": 0.0,
        }
        rows.append({"symbol": name, "notionalCoef": 1.0, "brackets": [bracket]})
    return rows


def position_mode(call: Call) -> object:
    return {"dualSidePosition": call.engine.position_mode == HEDGE_MODE}


def change_position_mode(call: Call) -> object:
    raw = p.required(call.params, "dualSidePosition").lower()
    if raw not in ("true", "false"):
        raise e.missing("dualSidePosition")
    wanted = HEDGE_MODE if raw == "true" else ONE_WAY_MODE
    engine = call.engine
    if wanted == engine.position_mode:
        raise BinanceError(e.NO_NEED_TO_CHANGE_POSITION_SIDE, "No need to change position side.")
    try:
        engine.set_position_mode(wanted)
    except SimError:
        if any(position.hold for position in engine.positions()):
            raise BinanceError(
                e.POSITION_SIDE_CHANGE_WITH_POSITION,
                "Position side cannot be changed if there exists position.",
            ) from None
        raise BinanceError(
            e.POSITION_SIDE_CHANGE_WITH_OPEN_ORDERS,
            "Position side cannot be changed if there exists open orders.",
        ) from None
    return OK


def commission_rate(call: Call) -> object:
    symbol = p.required(call.params, "symbol")
    contract_of(call.engine, symbol)
    return {
        "symbol": symbol,
        "makerCommissionRate": fmt(call.engine.maker_fee_rate),
        "takerCommissionRate": fmt(call.engine.taker_fee_rate),
        "rpiCommissionRate": "0",
    }


def open_listen_key(call: Call) -> object:
    return {"listenKey": call.memory.open_listen_key(call.engine.now_ms())}


def keep_listen_key(call: Call) -> object:
    return {"listenKey": call.memory.keep_alive(call.engine.now_ms())}


def close_listen_key(call: Call) -> object:
    call.memory.close_listen_key()
    return {}


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/fapi/v3/positionRisk"): Route("SIGNED", position_risk_v3, weight=5),
    ("GET", "/fapi/v2/positionRisk"): Route("SIGNED", position_risk_v2, weight=5),
    ("GET", "/fapi/v3/account"): Route("SIGNED", account, weight=5),
    ("GET", "/fapi/v2/account"): Route("SIGNED", account, weight=5),
    ("GET", "/fapi/v3/balance"): Route("SIGNED", balance, weight=5),
    ("GET", "/fapi/v2/balance"): Route("SIGNED", balance, weight=5),
    ("POST", "/fapi/v1/leverage"): Route("SIGNED", change_leverage),
    ("POST", "/fapi/v1/marginType"): Route("SIGNED", change_margin_type),
    ("GET", "/fapi/v1/leverageBracket"): Route("SIGNED", leverage_bracket),
    ("GET", "/fapi/v1/positionSide/dual"): Route("SIGNED", position_mode, weight=30),
    ("POST", "/fapi/v1/positionSide/dual"): Route("SIGNED", change_position_mode),
    ("GET", "/fapi/v1/commissionRate"): Route("SIGNED", commission_rate, weight=20),
    ("POST", "/fapi/v1/listenKey"): Route("KEY", open_listen_key),
    ("PUT", "/fapi/v1/listenKey"): Route("KEY", keep_listen_key),
    ("DELETE", "/fapi/v1/listenKey"): Route("KEY", close_listen_key),
}
