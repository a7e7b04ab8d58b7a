"""The scenarios: each a script of named steps a trader and a market would take, long or
short. A seed picks the variant; the lifecycle runs the steps in order while the chaos
plan kills and disturbs processes between and during them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from zoneguard.chaos import steps

if TYPE_CHECKING:
    from zoneguard.chaos.lifecycle import LifecycleRun

StepFn = Callable[["LifecycleRun"], Awaitable[None]]

SIDES = ("long", "short")
GUARDED_TIMEOUT_S = 120
"""Signals that should fill: long enough for several restarts before the deadline."""


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    run: StepFn


@dataclass(frozen=True, slots=True)
class Script:
    scenario: str
    variant: str
    timeout_seconds: int
    steps: tuple[Step, ...]
    nominal: str
    """The outcome the script aims at (``closed take_profit``, ``timeout``...): reported
    for coverage; the checks judge the outcome from what the exchange did."""


START = (Step("reset", steps.reset), Step("submit", steps.submit))
OPEN = (*START, Step("enter_zone", steps.enter_zone), Step("fill", steps.fill))
FINAL = Step("await_final", steps.await_final)


def _cross(level: str) -> Step:
    fn = steps.cross_take if level == "take_profit" else steps.cross_stop
    return Step(f"cross_{level}", fn)


def _jump(level: str) -> Step:
    fn = steps.jump_preset_take if level == "take_profit" else steps.jump_preset_stop
    return Step(f"past_preset_{level}", fn)


def _guarded(scenario: str, variant: str, exit_steps: tuple[Step, ...], nominal: str) -> Script:
    """A signal that opens a position, then ``exit_steps`` close it."""
    return Script(scenario, variant, GUARDED_TIMEOUT_S, (*OPEN, *exit_steps, FINAL), nominal)


def _level(variant: str) -> str:
    """The level a ``take`` or ``stop`` variant aims at."""
    return "take_profit" if variant == "take" else "stop_loss"


def _take_profit(variant: str) -> Script:
    return _guarded("take_profit", variant, (_cross("take_profit"),), "closed take_profit")


def _stop_loss(variant: str) -> Script:
    return _guarded("stop_loss", variant, (_cross("stop_loss"),), "closed stop_loss")


def _timeout(variant: str) -> Script:
    if variant == "unreached":
        return Script("timeout", variant, 2, (*START, FINAL), "timeout")
    # placed, never filled: the worker cancels the entry at the deadline
    return Script(
        "timeout", variant, 3, (*START, Step("enter_zone", steps.enter_zone), FINAL), "timeout"
    )


def _cancel(variant: str) -> Script:
    cancel = Step("cancel", steps.cancel)
    if variant == "waiting":
        return Script("cancel", variant, GUARDED_TIMEOUT_S, (*START, cancel, FINAL), "cancelled")
    return Script(
        "cancel",
        variant,
        GUARDED_TIMEOUT_S,
        (*START, Step("enter_zone", steps.enter_zone), cancel, FINAL),
        "cancelled",
    )


def _partial_fill(variant: str) -> Script:
    placed = (*START, Step("enter_zone", steps.enter_zone), Step("partial_fill", steps.partial))
    if variant == "then_take":
        return Script(
            "partial_fill",
            variant,
            GUARDED_TIMEOUT_S,
            (*placed, _cross("take_profit"), FINAL),
            "closed take_profit",
        )
    if variant == "then_stop":  # the stop's path trades through the rest of the entry
        return Script(
            "partial_fill",
            variant,
            GUARDED_TIMEOUT_S,
            (*placed, _cross("stop_loss"), FINAL),
            "closed stop_loss",
        )
    if variant == "then_rest":
        return Script(
            "partial_fill",
            variant,
            GUARDED_TIMEOUT_S,
            (*placed, Step("fill", steps.fill), _cross("take_profit"), FINAL),
            "closed take_profit",
        )
    # then_timeout: the rest is cancelled at the deadline, the part filled stays guarded
    return Script(
        "partial_fill",
        variant,
        5,
        (*placed, Step("rest_cancelled", steps.rest_cancelled), _cross("stop_loss"), FINAL),
        "closed stop_loss",
    )


def _close_refused(variant: str) -> Script:
    level = _level(variant)
    refuse = Step("refuse_closes", steps.refuse_closes)
    return _guarded(
        "close_refused", variant, (refuse, _cross(level)), f"closed {level} (after close_failed)"
    )


def _preset_first(variant: str) -> Script:
    level = _level(variant)
    return _guarded(
        "preset_first", variant, (_jump(level),), f"closed {level} (by the exchange's preset)"
    )


def _callback_down(variant: str) -> Script:
    level = _level(variant)
    return _guarded(
        "callback_down", variant, (_cross(level),), f"closed {level} (callbacks delivered late)"
    )


def _ladder(variant: str) -> Script:
    """Issue 9's exits: TP1 closes half, the stop moves to break-even; then TP2 closes the
    rest (``both``) or the price comes back to break-even (``break_even``)."""
    first = Step("cross_tp1", steps.cross_first_rung)
    if variant == "both":
        return _guarded(
            "ladder",
            variant,
            (first, Step("cross_tp2", steps.cross_last_rung)),
            "closed take_profit",
        )
    return _guarded(
        "ladder",
        variant,
        (first, Step("back_to_break_even", steps.back_to_break_even)),
        "closed break_even",
    )


def _trailing(variant: str) -> Script:
    """A trailing stop activated, moved by a new best, then the price back through it."""
    return _guarded(
        "trailing",
        variant,
        (Step("trail_up", steps.trail_up), Step("trail_back", steps.trail_back)),
        "closed trailing_stop",
    )


def _pyramid(variant: str) -> Script:
    """Issue 9's entry zones: the first zone fills its half, the price dips into the
    second; then all ten contracts fill and the target closes them (``take``), or the price
    falls through the second entry to the stop (``stop``), which closes what it filled too."""
    second = (
        Step("fill_first_zone", steps.fill_first_zone),
        Step("enter_second_zone", steps.enter_second_zone),
    )
    exits: tuple[Step, ...]
    if variant == "take":
        exits = (Step("fill", steps.fill), _cross("take_profit"))
        nominal = "closed take_profit"
    else:
        exits = (_cross("stop_loss"),)
        nominal = "closed stop_loss"
    body = (*START, Step("enter_zone", steps.enter_zone), *second, *exits, FINAL)
    return Script("pyramid", variant, GUARDED_TIMEOUT_S, body, nominal)


def _shared(variant: str) -> Script:
    """Issue 9's several signals on one side: another signal holds part of the position
    before this one enters; this one's ladder (``ladder``: TP1, then TP2 closes the rest,
    settled by its own fills) or its stop (``stop``) closes only its own contracts; the
    other is closed by hand at the end."""
    exits = (
        (Step("cross_tp1", steps.cross_first_rung), Step("cross_tp2", steps.cross_last_rung))
        if variant == "ladder"
        else (_cross("stop_loss"),)
    )
    body = (
        Step("reset", steps.reset),
        Step("open_companion", steps.open_companion),
        Step("submit", steps.submit),
        Step("enter_zone", steps.enter_zone),
        Step("fill", steps.fill),
        *exits,
        FINAL,
        Step("close_companion", steps.close_companion),
    )
    nominal = "closed take_profit" if variant == "ladder" else "closed stop_loss"
    return Script("shared", variant, GUARDED_TIMEOUT_S, body, nominal)


SCENARIOS: dict[str, tuple[Callable[[str], Script], tuple[str, ...]]] = {
    "take_profit": (_take_profit, ("plain",)),
    "stop_loss": (_stop_loss, ("plain",)),
    "timeout": (_timeout, ("unreached", "unfilled")),
    "cancel": (_cancel, ("waiting", "placed")),
    "partial_fill": (_partial_fill, ("then_take", "then_stop", "then_rest", "then_timeout")),
    "close_refused": (_close_refused, ("stop", "take")),
    "preset_first": (_preset_first, ("stop", "take")),
    "callback_down": (_callback_down, ("stop", "take")),
    "ladder": (_ladder, ("both", "break_even")),
    "trailing": (_trailing, ("plain",)),
    "pyramid": (_pyramid, ("take", "stop")),
    "shared": (_shared, ("ladder", "stop")),
}
"""Scenario name -> (script builder, its variants)."""


def script(scenario: str, variant: str) -> Script:
    build, _variants = SCENARIOS[scenario]
    return build(variant)


def variants(scenario: str) -> tuple[str, ...]:
    return SCENARIOS[scenario][1]


def all_keys() -> list[str]:
    """Every ``scenario:side``, in a fixed order (a run cycles through them)."""
    return [f"{name}:{side}" for name in SCENARIOS for side in SIDES]


def select(filters: list[str]) -> list[str]:
    """The ``scenario:side`` keys a list of filters names (``take_profit`` means both
    sides); raises ValueError naming an unknown one."""
    if not filters:
        return all_keys()
    keys: list[str] = []
    for raw in filters:
        name, _, side = raw.strip().partition(":")
        if name not in SCENARIOS:
            raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
        if side and side not in SIDES:
            raise ValueError(f"unknown side {side!r} in {raw!r}; use long or short")
        for chosen in (side,) if side else SIDES:
            key = f"{name}:{chosen}"
            if key not in keys:
                keys.append(key)
    return keys
