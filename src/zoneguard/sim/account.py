"""The account's money and positions: the futures wallet, margin frozen by resting orders,
each position with its leverage, the position mode, transfers and claims.

It answers what a fill does to the money (netting in one-way mode, realised PnL, the fee,
the ledger) and what the balance is; it remembers which positions and whether the balance
changed since the engine last took its events. Margin is notional / leverage; unrealised
PnL never changes the available balance and nothing is liquidated: the simulator is for
execution logic, not for risk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from zoneguard.sim import errors as e
from zoneguard.sim import positions
from zoneguard.sim.contracts import SimContract
from zoneguard.sim.errors import SimError
from zoneguard.sim.funds import (
    FLOW_COMMISSION,
    FLOW_REALIZED_PNL,
    FLOW_TRANSFER,
    MAX_TRANSFER,
    MIN_TRANSFER,
    TRANSFER_TYPES,
    Funds,
    Transfer,
)
from zoneguard.sim.market import Market
from zoneguard.sim.model import (
    HEDGE_MODE,
    LONG,
    ONE_WAY_MODE,
    SHORT,
    Balance,
    Order,
    Position,
    PositionMode,
    is_opening,
    opposite_of,
    position_type_of,
)

DEFAULT_LEVERAGE = Decimal(10)
DEFAULT_OPEN_TYPE = "cross"
OPEN_TYPES = ("cross", "isolated")
MAINTENANCE_MARGIN_RATE = Decimal("0.004")


@dataclass(frozen=True, slots=True)
class FillEffect:
    """What one fill did to the positions, for the order side of the fill to finish."""

    realised: Decimal
    touched: list[Position]  # in the order they changed; the fee went to the last one
    opened: int  # contracts added to ``position`` (after any netting)
    position: Position  # the position the order's side adds to (1/4) or reduces (2/3)


class Account:
    def __init__(
        self,
        market: Market,
        clock: Callable[[], int],
        *,
        usdt_balance: Decimal,
        spot_balance: Decimal,
        claim_amount: Decimal,
    ) -> None:
        self._market = market
        self._clock = clock
        self._wallet = usdt_balance
        self._frozen = Decimal(0)
        self._positions: dict[tuple[str, int], Position] = {}
        self._leverage: dict[str, tuple[Decimal, str]] = {}
        self._dirty_positions: dict[tuple[str, int], None] = {}
        self._balance_dirty = False
        self.position_mode: PositionMode = HEDGE_MODE
        self.funds = Funds(spot_balance)
        self.claim_amount = claim_amount

    # ------------------------------------------------------------------ balance

    def balance(self) -> Balance:
        deposit = Decimal(0)
        unrealized = Decimal(0)
        for position in self._positions.values():
            if position.hold:
                deposit += position.margin
                unrealized += self.unrealized_pnl(position)
        return Balance(self._wallet, self._frozen, deposit, unrealized)

    def unrealized_pnl(self, position: Position) -> Decimal:
        if not position.hold:
            return Decimal(0)
        book = self._market.books[position.symbol]
        mark = book.contract.from_ticks(book.last_ticks)
        direction = 1 if position.position_type == LONG else -1
        size = position.hold * book.contract.contract_size
        return (mark - position.entry_price) * size * direction

    def liquidation_price(self, position: Position) -> Decimal:
        """Rough isolated-margin liquidation price: entry moved by 1/leverage - MMR."""
        if not position.hold:
            return Decimal(0)
        move = 1 / position.leverage - MAINTENANCE_MARGIN_RATE
        factor = 1 - move if position.position_type == LONG else 1 + move
        return max(position.entry_price * factor, Decimal(0))

    def freeze(self, margin: Decimal) -> None:
        """Reserve the margin of an opening order while it rests."""
        self._frozen += margin
        self._balance_dirty = True

    def unfreeze(self, margin: Decimal) -> None:
        self._frozen -= margin
        self._balance_dirty = True

    # ------------------------------------------------------------------ positions

    def positions(self) -> Iterable[Position]:
        return self._positions.values()

    def position(self, symbol: str, position_type: int) -> Position | None:
        return self._positions.get((symbol, position_type))

    def holds_any(self) -> bool:
        return any(position.hold for position in self._positions.values())

    def position_for(self, order: Order) -> Position:
        """The position ``order``'s side adds to or reduces, created flat on first use."""
        key = (order.symbol, position_type_of(order.side))
        position = self._positions.get(key)
        if position is None:
            position = Position(order.symbol, key[1], order.leverage, order.open_type)
            self._positions[key] = position
        return position

    def mark(self, position: Position) -> None:
        """Note a changed position: the next events carry its snapshot."""
        self._dirty_positions[(position.symbol, position.position_type)] = None

    def settle_fill(
        self, order: Order, contract: SimContract, qty: int, price: Decimal, fee: Decimal, now: int
    ) -> FillEffect:
        """Apply ``qty`` contracts of ``order`` filled at ``price`` to the positions, the
        wallet and the ledger. A close never exceeds the position (the caller cut it)."""
        realised = Decimal(0)
        touched: list[Position] = []
        opened = 0
        reduced = 0
        position = self.position_for(order)
        if is_opening(order.side):
            opened = qty
            netted = self._netted_position(order)
            if netted is not None:
                reduced = min(qty, netted.hold)
                realised = positions.reduce(netted, contract, reduced, price)
                opened -= reduced
                touched.append(netted)
            if opened:
                if position.hold == 0:
                    positions.reopen(position, order.leverage, order.open_type, now)
                positions.increase(position, contract, opened, price)
                touched.append(position)
        else:
            reduced = qty
            realised = positions.reduce(position, contract, qty, price)
            touched.append(position)
        touched[-1].fees += fee
        for changed in touched:
            changed.update_time = now
        self._wallet += realised - fee
        if reduced:
            self.funds.record(order.symbol, FLOW_REALIZED_PNL, realised, now)
        self.funds.record(order.symbol, FLOW_COMMISSION, -fee, now)
        self._balance_dirty = True
        return FillEffect(realised, touched, opened, position)

    def _netted_position(self, order: Order) -> Position | None:
        """One-way mode: the opposite position an opening (buy/sell) order reduces before
        it opens anything; None in hedge mode, for reduce-only sides, or when flat."""
        if self.position_mode != ONE_WAY_MODE or not is_opening(order.side):
            return None
        opposite = self._positions.get((order.symbol, opposite_of(position_type_of(order.side))))
        return opposite if opposite is not None and opposite.hold > 0 else None

    # ------------------------------------------------------------------ settings

    def set_position_mode(self, mode: str, *, orders_waiting: bool) -> PositionMode:
        """Account-wide; refused (40059) while a position is held or ``orders_waiting``."""
        if mode not in (HEDGE_MODE, ONE_WAY_MODE):
            raise SimError(e.INVALID_REQUEST, f"Invalid position_mode {mode!r}")
        wanted: PositionMode = ONE_WAY_MODE if mode == ONE_WAY_MODE else HEDGE_MODE
        if wanted == self.position_mode:
            return wanted
        if self.holds_any() or orders_waiting:
            raise SimError(
                e.POSITION_MODE_REFUSED,
                "Position mode cannot change while positions or open orders exist",
            )
        self.position_mode = wanted
        return wanted

    def leverage_setting(self, symbol: str) -> tuple[Decimal, str]:
        self._market.book(symbol)
        return self._leverage.get(symbol, (DEFAULT_LEVERAGE, DEFAULT_OPEN_TYPE))

    def set_leverage(
        self, symbol: str, leverage: Decimal | None, open_type: str
    ) -> tuple[Decimal, str]:
        lev, kind = self.resolve_leverage(symbol, leverage, open_type)
        self._leverage[symbol] = (lev, kind)
        return lev, kind

    def remember_leverage(self, symbol: str, leverage: Decimal, open_type: str) -> None:
        """An accepted opening order's settings become the symbol's setting."""
        self._leverage[symbol] = (leverage, open_type)

    def resolve_leverage(
        self, symbol: str, leverage: Decimal | None, open_type: str | None
    ) -> tuple[Decimal, str]:
        """The requested settings, defaulted from the symbol's; refused outside the
        contract's range or when they differ from an open position's."""
        contract = self._market.contract(symbol)
        current_lev, current_type = self.leverage_setting(symbol)
        lev = current_lev if leverage is None else leverage
        kind = open_type or current_type
        if kind not in OPEN_TYPES:
            raise SimError(e.INVALID_OPEN_TYPE, f"Invalid open_type {kind!r}")
        if lev > contract.max_leverage:
            raise SimError(e.LEVERAGE_TOO_LARGE, f"Leverage exceeds {contract.max_leverage}")
        if lev < contract.min_leverage:
            raise SimError(e.LEVERAGE_TOO_SMALL, f"Leverage below {contract.min_leverage}")
        for position_type in (LONG, SHORT):
            position = self._positions.get((symbol, position_type))
            if position is None or position.hold == 0:
                continue
            if position.leverage != lev or position.open_type != kind:
                raise SimError(
                    e.LEVERAGE_CONFLICT, "Leverage or open_type conflicts with the open position"
                )
        return lev, kind

    # ------------------------------------------------------------------ money in and out

    def transfer(self, currency: str, amount: Decimal, kind: str) -> Transfer:
        if currency != "USDT":
            raise SimError(e.INVALID_REQUEST, f"Unsupported currency {currency!r}")
        if kind not in TRANSFER_TYPES:
            raise SimError(e.INVALID_REQUEST, f"Invalid type {kind!r}")
        if not MIN_TRANSFER <= amount <= MAX_TRANSFER:
            raise SimError(e.INVALID_REQUEST, f"amount must be between {MIN_TRANSFER} and 1e10")
        now = self._clock()
        if kind == "contract_to_spot":
            if amount > self.balance().available:
                raise SimError(e.INSUFFICIENT_BALANCE, "Insufficient available balance")
            self._wallet -= amount
            self._balance_dirty = True
            self.funds.spot_balance += amount
            self.funds.record("", FLOW_TRANSFER, -amount, now)
            return self.funds.add_transfer("contract_to_spot", amount, now)
        if amount > self.funds.spot_balance:
            raise SimError(e.INSUFFICIENT_BALANCE, "Insufficient spot balance")
        self.funds.spot_balance -= amount
        self._wallet += amount
        self._balance_dirty = True
        self.funds.record("", FLOW_TRANSFER, amount, now)
        return self.funds.add_transfer("spot_to_contract", amount, now)

    def claim(self) -> Decimal:
        self._wallet += self.claim_amount
        self._balance_dirty = True
        self.funds.record("", FLOW_TRANSFER, self.claim_amount, self._clock())
        return self.claim_amount

    # ------------------------------------------------------------------ events

    def take_changes(self) -> tuple[list[Position], Balance | None]:
        """Snapshots of the positions changed since the last call, and the balance if it
        changed; both forgotten."""
        changed = [self._positions[key].snapshot() for key in self._dirty_positions]
        self._dirty_positions = {}
        balance = self.balance() if self._balance_dirty else None
        self._balance_dirty = False
        return changed, balance
