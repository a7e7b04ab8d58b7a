"""What must hold after every lifecycle, checked against the exchange's own state
(``/_sim/state``) and the callbacks received. Pure: evidence in, findings out.

Each check names one promise of the product (no duplicate order, no flipped position,
every crossed level closed, nothing left open, one final callback, the app telling the
truth); a failed check is a :class:`Finding` whose message says what was seen.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

Row = Mapping[str, Any]

FINAL_STATUSES = frozenset({"closed", "timeout", "failed", "cancelled"})
ENTRY_SIDE = {"long": 1, "short": 4}
"""BitMart sides: 1 buy-open-long, 2 buy-close-short, 3 sell-close-long, 4 sell-open-short."""
CLOSE_SIDE = {"long": 3, "short": 2}
EXCHANGE_EXITS = frozenset({"take_profit", "stop_loss"})
"""``origin`` of an order the exchange's preset TP/SL sent."""
ORDER_FINISHED = 4
PLAN_ACTIVE = 1
PRICE_TOLERANCE = Decimal("1e-6")
"""Relative: callbacks carry prices as JSON numbers (shortest float text of a Decimal)."""


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    message: str

    def __str__(self) -> str:
        return f"{self.check}: {self.message}"


@dataclass
class Evidence:
    """One lifecycle, as the exchange and the receiver saw it."""

    order_id: str
    side: str
    contracts: int
    orders: Sequence[Row]
    """The simulator's orders of this lifecycle: ours (by client id) and the ones the
    exchange's presets sent for this symbol and side during it."""
    position: Row | None
    """The simulator's position of this symbol and side (None: never opened)."""
    plan_orders: Sequence[Row]
    """The simulator's plan (TP/SL) orders of the symbol."""
    callbacks: Sequence[Row]
    """Callback bodies about this order, in arrival order (repeats included)."""
    rung_ids: Mapping[int, frozenset[str]] = field(default_factory=dict)
    """Client ids of each take-profit rung's closes (a ladder), by rung."""
    crossed: list[str] = field(default_factory=list)
    """Levels (``stop_loss``/``take_profit``) the script moved the price beyond while the
    exchange showed the position open, in order."""
    cancel_requested: bool = False
    """The script's cancel was accepted (2xx), or sent with its answer lost and the order
    ended before a retry was answered (it may have been carried out)."""
    zones: Sequence[tuple[Decimal, Decimal]] = ()
    """The signal's entry zones when it has several (``entry_zones``); each may place one
    entry. Empty: the seed's one zone."""
    via_app: bool = False
    app_order: Row | None = None
    """The app's ``GET /api/orders/{id}`` at the end (via the app only)."""


def dec(value: object) -> Decimal | None:
    """A wire number (JSON number or decimal string) as Decimal; None when absent."""
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def same_price(a: Decimal | None, b: Decimal | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= PRICE_TOLERANCE * max(abs(a), abs(b), Decimal(1))


def deal(order: Row) -> Decimal:
    return dec(order.get("deal_size")) or Decimal(0)


def entries(evidence: Evidence) -> list[Row]:
    """Opening orders (either side: one on the wrong side is a finding of its own)."""
    return [o for o in evidence.orders if o.get("side") in ENTRY_SIDE.values()]


def closes(evidence: Evidence) -> list[Row]:
    return [o for o in evidence.orders if o.get("side") == CLOSE_SIDE[evidence.side]]


def rung_closes(evidence: Evidence, index: int) -> list[Row]:
    """Filled closes of take-profit rung ``index``."""
    ids = evidence.rung_ids.get(index, frozenset())
    return [o for o in closes(evidence) if o.get("client_order_id") in ids and deal(o) > 0]


def final_closes(evidence: Evidence) -> list[Row]:
    """Filled closes the ``closed`` callback reports: all but those of the rungs that
    reported their own ``partially_closed``."""
    reported = {
        b.get("take_profit_index")
        for b in distinct_events(evidence.callbacks)
        if b.get("status") == "partially_closed"
    }
    apart = set().union(*(evidence.rung_ids.get(k, frozenset()) for k in reported if k))
    return [o for o in closes(evidence) if deal(o) > 0 and o.get("client_order_id") not in apart]


def entered(evidence: Evidence) -> Decimal:
    return sum((deal(o) for o in entries(evidence)), Decimal(0))


def closed_total(evidence: Evidence) -> Decimal:
    return sum((deal(o) for o in closes(evidence)), Decimal(0))


def distinct_events(callbacks: Iterable[Row]) -> list[Row]:
    """One body per ``event_id``, in first-arrival order."""
    seen: dict[str, Row] = {}
    for body in callbacks:
        seen.setdefault(str(body.get("event_id")), body)
    return list(seen.values())


def final_callbacks(evidence: Evidence) -> list[Row]:
    return [b for b in distinct_events(evidence.callbacks) if b.get("status") in FINAL_STATUSES]


def avg_price(orders: Iterable[Row]) -> Decimal | None:
    """The deal-weighted average price of ``orders`` (None when nothing filled)."""
    size = value = Decimal(0)
    for order in orders:
        filled = deal(order)
        price = dec(order.get("deal_avg_price"))
        if filled > 0 and price is not None:
            size += filled
            value += filled * price
    return None if size == 0 else value / size


# -- the checks ---------------------------------------------------------------------------


def by_zone(evidence: Evidence) -> list[list[Row]]:
    """The entries of each zone (one group for the seed's one zone): an entry belongs to
    the zone whose middle its limit price is nearest."""
    ours = entries(evidence)
    if not evidence.zones:
        return [ours]
    middles = [(low + high) / 2 for low, high in evidence.zones]
    groups: list[list[Row]] = [[] for _ in middles]
    for order in ours:
        price = dec(order.get("price")) or Decimal(0)
        nearest = min(range(len(middles)), key=lambda k: abs(middles[k] - price))
        groups[nearest].append(order)
    return groups


def check_one_entry(evidence: Evidence) -> list[str]:
    """Exactly one entry per signal (per zone, with several zones): no client id twice,
    never two entries live or filled, never more contracts than the signal's, never an
    opening order on the other side. A post-only entry the exchange cancelled unfilled
    may be followed by a re-priced one."""
    problems: list[str] = []
    ours = entries(evidence)
    wrong = [o for o in ours if o.get("side") != ENTRY_SIDE[evidence.side]]
    if wrong:
        problems.append(
            f"opening order(s) on the other side: {_ids(wrong)} (a {evidence.side} signal)"
        )
    repeated = [
        cid for cid, n in Counter(str(o.get("client_order_id")) for o in ours).items() if n > 1
    ]
    if repeated:
        problems.append(f"client id(s) used by two entry orders: {repeated}")
    for zone, group in enumerate(by_zone(evidence), start=1):
        problems += _one_entry_of(group, f"zone {zone}" if evidence.zones else "one signal")
    total = entered(evidence)
    if total > evidence.contracts:
        problems.append(f"{total} contracts entered for a signal of {evidence.contracts}")
    return problems


def _one_entry_of(ours: list[Row], what: str) -> list[str]:
    problems: list[str] = []
    with_fills = [o for o in ours if deal(o) > 0]
    if len(with_fills) > 1:
        problems.append(f"{len(with_fills)} entry orders filled for {what}: {_ids(with_fills)}")
    live = [o for o in ours if o.get("state") != ORDER_FINISHED]
    if len(live) > 1:
        problems.append(f"{len(live)} entry orders live at once for {what}: {_ids(live)}")
    ordered = sorted(ours, key=lambda o: (int(o.get("create_time") or 0), str(o.get("order_id"))))
    for earlier in ordered[:-1]:
        if deal(earlier) > 0:
            later = ordered[ordered.index(earlier) + 1]
            problems.append(
                f"entry {earlier.get('order_id')} had fills, yet entry {later.get('order_id')} "
                "followed it (a re-price is only for an entry cancelled unfilled)"
            )
            break
    return problems


def check_no_flip(evidence: Evidence) -> list[str]:
    """Never more closed than held: a close larger than the position would open the other
    side (one-way accounts) or be refused for a reason nobody handles."""
    held, closed = entered(evidence), closed_total(evidence)
    if closed > held:
        return [f"closed {closed} contracts of {held} held ({_ids(closes(evidence))})"]
    return []


def check_crossed_closed(evidence: Evidence) -> list[str]:
    """A stop or target the price crossed while the position was open is closed: the
    whole position, reported with the level that was crossed first."""
    if not evidence.crossed:
        return []
    first = evidence.crossed[0]
    problems: list[str] = []
    held, closed = entered(evidence), closed_total(evidence)
    if closed != held:
        problems.append(f"{first} crossed: {closed} of {held} contracts closed")
    reported = [b for b in final_callbacks(evidence) if b.get("status") == "closed"]
    if not reported:
        problems.append(f"{first} crossed with a position open, yet no closed callback")
    elif reported[0].get("reason") != first:
        problems.append(
            f"{first} crossed first, but closed was reported with reason "
            f"{reported[0].get('reason')!r}"
        )
    return problems


def check_nothing_open(evidence: Evidence) -> list[str]:
    """At the end: no position, no order of this lifecycle still working, no TP/SL plan
    left on this side of the symbol."""
    problems: list[str] = []
    held = dec((evidence.position or {}).get("current_amount")) or Decimal(0)
    if held != 0:
        problems.append(f"{held} contracts still open at the end")
    working = [o for o in evidence.orders if o.get("state") != ORDER_FINISHED]
    if working:
        problems.append(f"order(s) still working at the end: {_ids(working)}")
    plans = [
        p
        for p in evidence.plan_orders
        if p.get("state") == PLAN_ACTIVE and p.get("side") == CLOSE_SIDE[evidence.side]
    ]
    if plans:
        problems.append(f"TP/SL plan order(s) still active: {_ids(plans)}")
    return problems


def check_one_final_callback(evidence: Evidence) -> list[str]:
    """Exactly one final callback (``closed``, ``timeout``, ``failed``, ``cancelled``), last;
    a repeated ``event_id`` carries the very same body; one fact is never reported under
    two event ids."""
    problems: list[str] = []
    first_body: dict[str, Row] = {}
    for body in evidence.callbacks:
        event_id = str(body.get("event_id"))
        if body != first_body.setdefault(event_id, body):
            problems.append(f"event {event_id} came back with another body")
    events = distinct_events(evidence.callbacks)
    finals = [b for b in events if b.get("status") in FINAL_STATUSES]
    statuses = [str(b.get("status")) for b in events]
    if not finals:
        problems.append(f"no final callback (got {statuses})")
    elif len(finals) > 1:
        problems.append(f"{len(finals)} final callbacks: {statuses}")
    elif events[-1] is not finals[0]:
        problems.append(f"callbacks after the final one: {statuses}")
    fills = Counter(b.get("entry_index") for b in events if b.get("status") == "filled")
    if any(n > 1 for n in fills.values()):
        problems.append(f"filled reported {sum(fills.values())} times: {statuses}")
    placed = Counter(str(b.get("exchange_order_id")) for b in events if b.get("status") == "placed")
    twice = [order_id for order_id, n in placed.items() if n > 1]
    if twice:
        problems.append(f"placed reported twice for exchange order(s) {twice}")
    return problems


def check_outcome(evidence: Evidence) -> list[str]:
    """The final status follows from what the exchange did: a position that existed ends
    ``closed``; an entry that never filled ends ``cancelled`` when the script cancelled it,
    else ``timeout``. ``failed`` is never right here: no script sends a bad order."""
    finals = final_callbacks(evidence)
    if len(finals) != 1:
        return []  # check_one_final_callback says so
    final = finals[0]
    status = final.get("status")
    if status == "failed":
        return [f"failed: {final.get('error')} (code {final.get('error_code')})"]
    held = entered(evidence)
    expected = "closed" if held > 0 else "cancelled" if evidence.cancel_requested else "timeout"
    if status != expected:
        why = f"{held} contracts were entered" if held else "nothing was entered"
        return [f"ended {status!r}, expected {expected!r} ({why})"]
    return []


def check_callbacks_match_exchange(evidence: Evidence) -> list[str]:
    """Callbacks tell the exchange's truth: ids of orders that exist, the contracts that
    filled, the price the position closed at, and who closed it."""
    problems: list[str] = []
    events = distinct_events(evidence.callbacks)
    entry_ids = {str(o.get("order_id")) for o in entries(evidence)}
    for body in events:
        if body.get("status") == "placed" and str(body.get("exchange_order_id")) not in entry_ids:
            problems.append(
                f"placed names exchange order {body.get('exchange_order_id')}, "
                f"not an entry of this signal ({sorted(entry_ids)})"
            )
    if evidence.zones:
        problems += _zone_fills_match(evidence, events)
    else:
        held = entered(evidence)
        for body in events:
            if body.get("status") == "filled" and dec(body.get("filled_contracts")) != held:
                problems.append(
                    f"filled reports {body.get('filled_contracts')} contracts; the exchange "
                    f"filled {held}"
                )
    closed = [b for b in events if b.get("status") == "closed"]
    if closed:
        problems += _closed_matches(evidence, closed[0])
    return problems


def _zone_fills_match(evidence: Evidence, events: list[Row]) -> list[str]:
    """Several zones: each ``filled`` names its zone's entry and what it filled; the last
    one's position is every entry's fill."""
    problems: list[str] = []
    by_id = {str(o.get("order_id")): o for o in entries(evidence)}
    fills = [b for b in events if b.get("status") == "filled"]
    for body in fills:
        order = by_id.get(str(body.get("exchange_order_id")))
        if order is None:
            problems.append(f"filled names {body.get('exchange_order_id')}, not an entry")
        elif dec(body.get("zone_filled_contracts")) != deal(order):
            problems.append(
                f"filled of zone {body.get('entry_index')} reports "
                f"{body.get('zone_filled_contracts')} contracts; its entry filled {deal(order)}"
            )
    held = entered(evidence)
    if fills and dec(fills[-1].get("filled_contracts")) != held:
        problems.append(
            f"the last filled reports a position of {fills[-1].get('filled_contracts')}; "
            f"the exchange filled {held}"
        )
    return problems


def _closed_matches(evidence: Evidence, body: Row) -> list[str]:
    problems: list[str] = []
    filled_closes = final_closes(evidence)
    by_exchange = [o for o in filled_closes if o.get("origin") in EXCHANGE_EXITS]
    by_worker = [o for o in filled_closes if o.get("origin") not in EXCHANGE_EXITS]
    closed_by = body.get("closed_by")
    if closed_by == "worker" and not by_worker:
        problems.append("closed_by worker, but no close of the worker filled")
    if closed_by == "exchange" and not by_exchange:
        problems.append("closed_by exchange, but no preset TP/SL of the exchange filled")
    price = dec(body.get("close_price"))
    truth = avg_price(filled_closes)
    if price is not None and not same_price(price, truth):
        problems.append(f"closed at {price} reported; the exchange's closes averaged {truth}")
    close_id = body.get("close_order_id")
    if close_id and str(close_id) not in {str(o.get("order_id")) for o in filled_closes}:
        problems.append(f"close_order_id {close_id} is not a filled close of this position")
    return problems


def check_partial_closes(evidence: Evidence) -> list[str]:
    """Each ``partially_closed`` is its rung's truth (contracts and average price of the
    rung's closes at the exchange), and the parts and the final ``closed`` add up to what
    was entered."""
    problems: list[str] = []
    events = distinct_events(evidence.callbacks)
    parts = [b for b in events if b.get("status") == "partially_closed"]
    indexes = [b.get("take_profit_index") for b in parts]
    if len(set(indexes)) != len(indexes):
        problems.append(f"a rung reported twice: {indexes}")
    for body in parts:
        index = body.get("take_profit_index")
        orders = rung_closes(evidence, index if isinstance(index, int) else 0)
        size = sum((deal(o) for o in orders), Decimal(0))
        if dec(body.get("closed_quantity")) != size:
            problems.append(
                f"TP{index} reports {body.get('closed_quantity')} closed; its orders filled {size}"
            )
        truth = avg_price(orders)
        if not same_price(dec(body.get("close_price")), truth):
            problems.append(f"TP{index} reports {body.get('close_price')}; it filled at {truth}")
    closed = [b for b in events if b.get("status") == "closed"]
    if parts and closed:
        total = sum((dec(b.get("closed_quantity")) or Decimal(0) for b in parts), Decimal(0))
        total += dec(closed[0].get("filled_contracts")) or Decimal(0)
        if total != entered(evidence):
            problems.append(
                f"partial closes and closed report {total} contracts; {entered(evidence)} "
                "were entered"
            )
    return problems


def check_app_matches(evidence: Evidence) -> list[str]:
    """Through the app: its final record of the order is the exchange's truth."""
    if not evidence.via_app:
        return []
    app = evidence.app_order
    if app is None:
        return ["the app does not know the order"]
    problems: list[str] = []
    finals = final_callbacks(evidence)
    if finals and app.get("status") != finals[0].get("status"):
        problems.append(f"app says {app.get('status')!r}; the worker reported {_statuses(finals)}")
    filled = [o for o in entries(evidence) if deal(o) > 0]
    if len(filled) > 1:  # several zones: the app's totals are the whole position's
        problems += _app_totals(app, filled)
    elif filled:
        entry = filled[0]
        if str(app.get("exchange_order_id")) != str(entry.get("order_id")):
            problems.append(
                f"app's exchange_order_id {app.get('exchange_order_id')} is not the filled "
                f"entry {entry.get('order_id')}"
            )
        if not same_price(dec(app.get("entry_price")), dec(entry.get("deal_avg_price"))):
            problems.append(
                f"app's entry_price {app.get('entry_price')}; the exchange filled at "
                f"{entry.get('deal_avg_price')}"
            )
        if dec(app.get("filled_contracts")) != deal(entry):
            problems.append(
                f"app's filled_contracts {app.get('filled_contracts')}; the exchange filled "
                f"{deal(entry)}"
            )
    closed = [b for b in finals if b.get("status") == "closed"]
    if closed:
        truth = avg_price(final_closes(evidence))
        price = dec(app.get("close_price"))
        if price is not None and not same_price(price, truth):
            problems.append(f"app's close_price {price}; the exchange's closes averaged {truth}")
        if (app.get("close_order_id") or None) != (closed[0].get("close_order_id") or None):
            problems.append(
                f"app's close_order_id {app.get('close_order_id')}; the worker reported "
                f"{closed[0].get('close_order_id')}"
            )
    return problems


def _app_totals(app: Row, filled: list[Row]) -> list[str]:
    problems: list[str] = []
    ids = {str(o.get("order_id")) for o in filled}
    if str(app.get("exchange_order_id")) not in ids:
        problems.append(
            f"app's exchange_order_id {app.get('exchange_order_id')} is none of the filled "
            f"entries {sorted(ids)}"
        )
    truth = avg_price(filled)
    if not same_price(dec(app.get("entry_price")), truth):
        problems.append(
            f"app's entry_price {app.get('entry_price')}; the exchange's entries averaged {truth}"
        )
    total = sum((deal(o) for o in filled), Decimal(0))
    if dec(app.get("filled_contracts")) != total:
        problems.append(
            f"app's filled_contracts {app.get('filled_contracts')}; the exchange filled {total}"
        )
    return problems


CHECKS: tuple[tuple[str, Callable[[Evidence], list[str]]], ...] = (
    ("one_entry", check_one_entry),
    ("no_flip", check_no_flip),
    ("crossed_closed", check_crossed_closed),
    ("nothing_open", check_nothing_open),
    ("one_final_callback", check_one_final_callback),
    ("outcome", check_outcome),
    ("callbacks_match_exchange", check_callbacks_match_exchange),
    ("partial_closes", check_partial_closes),
    ("app_matches", check_app_matches),
)


def check_all(evidence: Evidence) -> list[Finding]:
    return [Finding(name, problem) for name, check in CHECKS for problem in check(evidence)]


def _ids(rows: Iterable[Row]) -> str:
    return ", ".join(f"{r.get('order_id')}(state {r.get('state')})" for r in rows)


def _statuses(bodies: Iterable[Row]) -> list[str]:
    return [str(b.get("status")) for b in bodies]
