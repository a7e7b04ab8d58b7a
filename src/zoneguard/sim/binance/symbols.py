"""A symbol as Binance describes it: filters, precisions, and base-asset quantities.

Binance counts quantities in the base asset (BTC); the engine counts whole contracts of
``contract_size``. The LOT_SIZE and MARKET_LOT_SIZE ``stepSize`` and ``minQty`` are the
contract size, so every quantity the filters accept is a whole number of contracts, and
:func:`to_contracts` is exact. ``tickSize`` is the contract's tick.

``pricePrecision`` is one digit finer than the tick (as on Binance's BTCUSDT: tick 0.10,
precision 2), so a price with too many digits is -1111 and a price between ticks is
-4014. The MIN_NOTIONAL values are the ones Binance lists for its large perpetuals (100
USDT for BTCUSDT, 20 for ETHUSDT) and 5 elsewhere: general knowledge, not a capture.
"""

from __future__ import annotations

from decimal import Decimal

from zoneguard.sim.binance import errors as e
from zoneguard.sim.binance.errors import BinanceError
from zoneguard.sim.contracts import SimContract
from zoneguard.sim.decimals import fmt

MIN_NOTIONAL: dict[str, Decimal] = {"BTCUSDT": Decimal(100), "ETHUSDT": Decimal(20)}
DEFAULT_MIN_NOTIONAL = Decimal(5)
MAX_PRICE_TICKS = 10**9
ONBOARD_DATE_MS = 1_569_398_400_000  # 2019-09-25, BTCUSDT's listing; any past date would do
PERPETUAL_DELIVERY_MS = 4_133_404_800_000  # 2100-12-25: Binance's "no delivery" date
ORDER_TYPES = [
    "LIMIT",
    "MARKET",
    "STOP",
    "STOP_MARKET",
    "TAKE_PROFIT",
    "TAKE_PROFIT_MARKET",
    "TRAILING_STOP_MARKET",
]
TIME_IN_FORCE = ["GTC", "IOC", "FOK", "GTX"]


def decimals_of(value: Decimal) -> int:
    """Digits after the point in ``value``'s shortest form (0.10 -> 1, 5 -> 0)."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def price_precision(contract: SimContract) -> int:
    return decimals_of(contract.tick) + 1


def quantity_precision(contract: SimContract) -> int:
    return decimals_of(contract.contract_size)


def min_notional(contract: SimContract) -> Decimal:
    return MIN_NOTIONAL.get(contract.symbol, DEFAULT_MIN_NOTIONAL)


def to_contracts(contract: SimContract, quantity: Decimal, *, market: bool) -> int:
    """Whole contracts of a base-asset ``quantity``: -4003 when not positive, -1111 with
    more digits than the step, -4023 between steps, -4005 above the lot's maximum."""
    if quantity <= 0:
        raise BinanceError(e.QTY_LESS_THAN_ZERO, "Quantity less than or equal to zero.")
    if decimals_of(quantity) > quantity_precision(contract):
        raise BinanceError(e.BAD_PRECISION, "Precision is over the maximum defined for this asset.")
    if quantity % contract.contract_size != 0:
        raise BinanceError(e.QTY_NOT_INCREASED_BY_STEP, "Quantity not increased by step size.")
    contracts = int(quantity / contract.contract_size)
    most = contract.market_max_volume if market else contract.max_volume
    if contracts > most:
        raise BinanceError(e.QTY_GREATER_THAN_MAX, "Quantity greater than max quantity.")
    return contracts


def to_quantity(contract: SimContract, contracts: int) -> Decimal:
    return contracts * contract.contract_size


def check_price(contract: SimContract, price: Decimal) -> None:
    """-4001 when not positive, -1111 with too many digits, -4014 between ticks."""
    if price <= 0:
        raise BinanceError(e.PRICE_LESS_THAN_ZERO, "Price less than or equal to zero.")
    if decimals_of(price) > price_precision(contract):
        raise BinanceError(e.BAD_PRECISION, "Precision is over the maximum defined for this asset.")
    if price % contract.tick != 0:
        raise BinanceError(e.PRICE_NOT_INCREASED_BY_TICK, "Price not increased by tick size.")


def check_notional(contract: SimContract, contracts: int, price: Decimal) -> None:
    """-4164 below the symbol's MIN_NOTIONAL (the caller skips reduce-only orders)."""
    least = min_notional(contract)
    if contract.notional(contracts, price) < least:
        raise BinanceError(
            e.MIN_NOTIONAL,
            f"Order's notional must be no smaller than {fmt(least)} "
            "(unless you choose reduce only).",
        )


def symbol_info(contract: SimContract) -> dict[str, object]:
    """One ``exchangeInfo.symbols`` entry. Field list from the SDK's response model; the
    values of the fields the simulator does not model (margins, fees, protection
    thresholds) are plausible constants."""
    step = fmt(contract.contract_size)
    return {
        "symbol": contract.symbol,
        "pair": contract.symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": PERPETUAL_DELIVERY_MS,
        "onboardDate": ONBOARD_DATE_MS,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": contract.base_currency,
        "quoteAsset": contract.quote_currency,
        "marginAsset": contract.quote_currency,
        "pricePrecision": price_precision(contract),
        "quantityPrecision": quantity_precision(contract),
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": fmt(contract.tick),
                "maxPrice": fmt(contract.tick * MAX_PRICE_TICKS),
                "tickSize": fmt(contract.tick),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": fmt(contract.min_volume * contract.contract_size),
                "maxQty": fmt(contract.max_volume * contract.contract_size),
                "stepSize": step,
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": fmt(contract.min_volume * contract.contract_size),
                "maxQty": fmt(contract.market_max_volume * contract.contract_size),
                "stepSize": step,
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MIN_NOTIONAL", "notional": fmt(min_notional(contract))},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": "1.0500",
                "multiplierDown": "0.9500",
                "multiplierDecimal": "4",
            },
        ],
        "orderTypes": ORDER_TYPES,
        "timeInForce": TIME_IN_FORCE,
        "permissionSets": [],
    }
