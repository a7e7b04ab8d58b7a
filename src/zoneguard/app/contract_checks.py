"""A signal against its contract, before anything is stored or queued: an unknown symbol, a
size outside the contract's limits or a leverage outside its range is a 422 now, with the
worker's own wording, instead of an order that fails at the worker later.

The rules are the domain's (``contracts_for_quantity``, ``validate_leverage``), which the
worker applies to the same facts, so the app never refuses what the worker would take.
"""

from __future__ import annotations

from zoneguard.app.contracts import ContractFacts, Known, Unchecked, Unknown
from zoneguard.app.logs import escaped, orders_log
from zoneguard.domain.contract import contracts_for_quantity, validate_leverage
from zoneguard.domain.errors import ContractError, FieldError
from zoneguard.domain.plan import OrderPlan


async def plan_problems(facts: ContractFacts, plan: OrderPlan) -> list[FieldError]:
    """What the contract refuses in ``plan`` (empty when all is well or nobody could say)."""
    found = await facts.lookup(plan.symbol)
    if isinstance(found, Unchecked):
        _skipped(plan.symbol, found, "signal")
        return []
    if isinstance(found, Unknown):
        return [FieldError("symbol", found.message)]
    problems = []
    for check in (
        lambda: contracts_for_quantity(found.spec, plan.quantity),
        lambda: validate_leverage(found.spec, plan.leverage),
    ):
        try:
            check()
        except ContractError as exc:
            problems.append(FieldError(exc.field, exc.message))
    return problems


async def symbol_problems(facts: ContractFacts, symbol: str) -> list[FieldError]:
    """An unknown ``symbol`` (for requests that carry no size)."""
    found = await facts.lookup(symbol)
    if isinstance(found, Unchecked):
        _skipped(symbol, found, "monitor request")
        return []
    if isinstance(found, Unknown):
        return [FieldError("symbol", found.message)]
    assert isinstance(found, Known)
    return []


def _skipped(symbol: str, found: Unchecked, what: str) -> None:
    orders_log.warning(
        "contract check skipped for a %s on %s: %s; accepted, the worker checks it on arrival",
        what,
        symbol,
        escaped(found.reason),
    )
