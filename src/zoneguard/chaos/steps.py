"""The steps scripts are made of. Each acts as a user or the market would (a signal, a
price, a partial fill, a cancel), then waits for the exchange to show the consequence.
A step whose lifecycle already ended (its final callback came) does nothing more: what
happened is the checks' business, not the script's."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from zoneguard.chaos.clients import Unreachable
from zoneguard.chaos.geometry import COMPANION_CONTRACTS, CONTRACTS, SYMBOL
from zoneguard.chaos.invariants import Finding

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from zoneguard.chaos.lifecycle import LifecycleRun, View

    Checker = Callable[[View | None], bool | Awaitable[bool]]

RETRY_S = 0.1
REFUSED_CLOSE_CODE = 40027
"""A business error the exchange may answer a close with (the worker retries with backoff)."""


class StepFailed(Exception):
    """A request a user makes was refused for good (a finding, not a chaos effect)."""


async def reset(run: LifecycleRun) -> None:
    """No fault left from the last lifecycle; the price back at the base, outside the zone."""
    await run.sim.faults({"clear": True})
    await run.sim.price(SYMBOL, run.levels.base)


async def open_companion(run: LifecycleRun) -> None:
    """Another signal on the same side enters and fills first (the ``shared`` scenario):
    the lifecycle's signal then shares the venue's position with it."""
    payload = run.levels.companion(run.companion_id)
    while True:
        try:
            status, body = await run.stack.worker.place(payload)
        except Unreachable:
            status, body = 0, None
        if status == 200:
            break
        if status not in (0, 502, 503):
            raise StepFailed(f"place-order (companion) answered {status}: {body}")
        await run.pause(RETRY_S, "the worker to take the companion")
    await run.sim.price(SYMBOL, run.levels.base)
    while True:
        view = await run.view()
        if view.held >= COMPANION_CONTRACTS:
            run.companion_held = Decimal(COMPANION_CONTRACTS)
            return
        state = await run.sim.state()
        live = [  # the companion's entry (the lifecycle's own is not sent yet)
            o
            for o in state.get("orders", [])
            if o.get("side") in (1, 4) and o.get("state") != 4 and o.get("symbol") == SYMBOL
        ]
        if live:
            await run.sim.price(SYMBOL, run.levels.through(Decimal(live[-1]["price"])))
        await run.pause(RETRY_S, "the companion's entry to fill")


async def close_companion(run: LifecycleRun) -> None:
    """The lifecycle's signal is over: the companion's contracts must all be there still
    (each signal closes only its own); then it is closed by hand, leaving the side flat."""
    state = await run.sim.state()
    position = next(
        (
            p
            for p in state.get("positions", [])
            if p.get("symbol") == SYMBOL and p.get("position_side") == run.plan.side
        ),
        None,
    )
    open_now = Decimal(str(position.get("current_amount", "0"))) if position else Decimal(0)
    if open_now < run.companion_held:
        run.findings.append(
            Finding(
                "shared_side",
                f"{open_now} contracts open after the signal ended: the companion's "
                f"{run.companion_held} were closed by another signal",
            )
        )
    while True:
        try:
            status, body = await run.stack.worker.close(run.companion_id)
        except Unreachable:
            status, body = 0, None
        if status in (200, 202) or (status == 409 and "holds no position" in str(body)):
            break
        if status not in (0, 502, 503, 409):
            raise StepFailed(f"close (companion) answered {status}: {body}")
        await run.pause(RETRY_S, "the worker to close the companion")
    run.companion_held = Decimal(0)
    while (await run.view()).held > 0:
        await run.pause(RETRY_S, "the companion's close")


async def submit(run: LifecycleRun) -> None:
    """Send the signal, to the worker or through the app, until it is taken (a process
    that is restarting is asked again, with the same body: both are idempotent)."""
    if run.plan.via_app:
        await _submit_to_app(run)
    else:
        await _submit_to_worker(run)


async def _submit_to_worker(run: LifecycleRun) -> None:
    payload = run.levels.signal(
        run.order_id,
        run.script.timeout_seconds,
        ladder=run.ladder,
        trailing=run.trailing,
        pyramid=run.pyramid,
    )
    while True:
        try:
            status, body = await run.stack.worker.place(payload)
        except Unreachable:
            status, body = 0, None
        if status == 200:
            return
        if status not in (0, 502, 503):
            raise StepFailed(f"place-order answered {status}: {body}")
        await run.pause(RETRY_S, "the worker to take the order")


async def _submit_to_app(run: LifecycleRun) -> None:
    payload = run.levels.signal(
        "",
        run.script.timeout_seconds,
        ladder=run.ladder,
        trailing=run.trailing,
        pyramid=run.pyramid,
    )
    del payload["id"]
    key = f"chaos-{run.plan.seed}-{run.plan.key}-{run.stack_generation}"
    while True:
        try:
            status, body = await run.stack.app.signal(payload, key)
        except Unreachable:
            status, body = 0, None
        if status in (200, 201) and isinstance(body, dict):
            run.adopt_order_id(str(body["id"]))
            break
        if status not in (0, 502, 503):
            raise StepFailed(f"POST /api/signals answered {status}: {body}")
        await run.pause(RETRY_S, "the app to take the signal")
    # The bus hands it to the worker; the zone is only entered once the worker has it.
    await run.until("the app's order submitted to the worker", _app_submitted(run), use_view=False)


def _app_submitted(run: LifecycleRun) -> Checker:
    async def check(_view: View | None) -> bool:
        try:
            status, body = await run.stack.app.order(run.order_id)
        except Unreachable:
            return False
        return status == 200 and isinstance(body, dict) and body.get("status") != "queued"

    return check


async def enter_zone(run: LifecycleRun) -> None:
    """The price enters the zone: the worker places its post-only entry."""
    await run.sim.price(SYMBOL, run.levels.entry)

    def placed(view: View | None) -> bool:
        assert view is not None
        return view.live_entry is not None or view.held > 0

    await run.until("the entry order live at the exchange", placed)


async def fill(run: LifecycleRun) -> None:
    """Trade through the live entry until the position holds every contract."""
    await _fill_until(run, CONTRACTS, "every contract of the entry filled")


async def fill_first_zone(run: LifecycleRun) -> None:
    """Trade through the first zone's entry until it holds its half."""
    await _fill_until(run, CONTRACTS // 2, "the first zone's entry filled")


async def _fill_until(run: LifecycleRun, contracts: int, what: str) -> None:
    async def filled(view: View | None) -> bool:
        assert view is not None
        if view.held >= contracts:
            return True
        if view.live_entry is not None:
            await run.sim.price(SYMBOL, run.levels.through(Decimal(view.live_entry["price"])))
        return False

    await run.until(what, filled)


async def enter_second_zone(run: LifecycleRun) -> None:
    """The price dips into the deeper zone: the worker places its second entry."""
    await run.sim.price(SYMBOL, run.levels.second_entry)

    def placed(view: View | None) -> bool:
        assert view is not None
        return view.live_entry is not None or view.held >= CONTRACTS

    await run.until("the second zone's entry live at the exchange", placed)


async def partial(run: LifecycleRun) -> None:
    """Fill part of the resting entry (``/_sim/fill``), as a thin market would."""
    view = await run.view()
    entry = view.live_entry
    if entry is None or view.held > 0 or run.ended():
        run.note("partial fill skipped: no entry resting unfilled")
        return
    want = run.plan.partial
    status, body = await run.sim.fill(SYMBOL, str(entry["order_id"]), want)
    if status != 200:
        run.note(f"partial fill refused by the sim: {status} {body}")
        return

    def held(v: View | None) -> bool:
        assert v is not None
        return v.held >= want

    await run.until(f"{want} contracts held", held)


async def rest_cancelled(run: LifecycleRun) -> None:
    """The deadline passes: the worker cancels the entry's unfilled rest."""

    def gone(view: View | None) -> bool:
        assert view is not None
        return view.live_entry is None

    await run.until("the entry's rest cancelled at the deadline", gone)


async def refuse_closes(run: LifecycleRun) -> None:
    """The exchange refuses the next closes (the worker reports close_failed, retries)."""
    spec = {"count": run.plan.refusals, "reduce_only": True, "code": REFUSED_CLOSE_CODE}
    await run.sim.faults({"reject_orders": spec})


async def cross_take(run: LifecycleRun) -> None:
    """Past the take-profit, short of the exchange's preset: the worker must close."""
    await _cross(run, run.levels.past_take, "take_profit")


async def cross_stop(run: LifecycleRun) -> None:
    await _cross(run, run.levels.past_stop, "stop_loss")


async def jump_preset_take(run: LifecycleRun) -> None:
    """One move past the exchange's preset take-profit: the exchange closes first."""
    await _cross(run, run.levels.past_preset_take, "take_profit")


async def jump_preset_stop(run: LifecycleRun) -> None:
    await _cross(run, run.levels.past_preset_stop, "stop_loss")


async def cross_first_rung(run: LifecycleRun) -> None:
    """Past TP1, short of TP2: half the position closes, the rest stays open."""
    await run.sim.price(SYMBOL, run.levels.past_take)

    def half_closed(v: View | None) -> bool:
        assert v is not None
        return 0 < v.held <= CONTRACTS // 2

    await run.until("TP1 closed half of the position", half_closed)


async def cross_last_rung(run: LifecycleRun) -> None:
    await _cross(run, run.levels.past_last_rung, "take_profit")


async def back_to_break_even(run: LifecycleRun) -> None:
    """Once the worker has moved the stop to break-even, the price comes back below it."""

    def moved(_view: View | None) -> bool:
        return "stop_moved" in {b.get("status") for b in run.stack.receiver.of(run.order_id)}

    await run.until("the stop moved to break-even", moved, use_view=False)
    await _cross(run, run.levels.past_break_even, "break_even")


async def trail_up(run: LifecycleRun) -> None:
    """Past the trailing stop's activation, then a new best; until the worker reports the
    level that best puts the stop at (a kill may cost it a report; a restart, seeing the
    price, moves and reports it again)."""
    for price in run.levels.trail_path:
        await run.sim.price(SYMBOL, price)
    level = run.levels.trailed_stop

    def reported(_view: View | None) -> bool:
        moves = [b for b in run.stack.receiver.of(run.order_id) if b.get("status") == "stop_moved"]
        return any(Decimal(str(b.get("stop_loss"))) == level for b in moves)

    await run.until(f"the trailing stop reported at {level}", reported, use_view=False)


async def trail_back(run: LifecycleRun) -> None:
    await _cross(run, run.levels.past_trailed_stop, "trailing_stop")


async def _cross(run: LifecycleRun, price: Decimal, reason: str) -> None:
    """Move the price beyond a level and hold it there until the position is flat. The
    crossing counts when the exchange shows a position open as the price moves."""
    view = await run.view()
    if view.held > 0:
        run.crossed.append(reason)
    await run.sim.price(SYMBOL, price)

    def flat(v: View | None) -> bool:
        assert v is not None
        return v.held == 0

    await run.until(f"the position closed past its {reason}", flat)


async def cancel(run: LifecycleRun) -> None:
    """The operator cancels (through the app when the signal came that way). An attempt whose
    answer was lost (the app or worker killed as it answered) may have been carried out:
    when the order then ends before a retry is answered, the cancel counts as requested."""
    sent = False
    while not run.ended():
        try:
            if run.plan.via_app:
                status, body = await run.stack.app.cancel(run.order_id)
            else:
                status, body = await run.stack.worker.cancel(run.order_id)
        except Unreachable:
            status, body = 0, None
        sent = True
        if 200 <= status < 300:
            run.cancel_requested = True
            return
        if status not in (0, 502, 503):
            raise StepFailed(f"cancel answered {status}: {body}")
        await run.pause(RETRY_S, "the cancel to be taken")
    run.cancel_requested = run.cancel_requested or sent


async def await_final(run: LifecycleRun) -> None:
    """Until the order's final callback (``closed``, ``timeout``, ``failed``, ``cancelled``)."""

    def done(_view: View | None) -> bool:
        return run.ended()

    await run.until("a final callback", done, within_s=run.final_timeout_s, use_view=False)
