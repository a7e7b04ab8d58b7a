"""Transfers, the demo claim and the ledger, and the leverage brackets."""

from __future__ import annotations

import itertools
from decimal import Decimal

from test_sim_engine import D, error_code, make_engine, market, move

from zoneguard.sim.brackets import brackets_for, max_notional_at
from zoneguard.sim.funds import FLOW_COMMISSION, FLOW_REALIZED_PNL, FLOW_TRANSFER


def test_transfers_move_money_between_spot_and_futures() -> None:
    engine = make_engine()
    engine.funds.spot_balance = D(50)
    engine.transfer("USDT", D(20), "spot_to_contract")
    assert (engine.funds.spot_balance, engine.balance().wallet) == (D(30), D(100020))
    engine.transfer("USDT", D("0.5"), "contract_to_spot")
    assert (engine.funds.spot_balance, engine.balance().wallet) == (D("30.5"), D("100019.5"))
    assert [t.type for t in engine.funds.transfers] == ["spot_to_contract", "contract_to_spot"]
    assert error_code(lambda: engine.transfer("USDT", D(31), "spot_to_contract")) == 40027
    assert error_code(lambda: engine.transfer("BTC", D(1), "spot_to_contract")) == 40011
    assert error_code(lambda: engine.transfer("USDT", D("0.001"), "spot_to_contract")) == 40011


def test_only_available_balance_leaves_the_futures_wallet() -> None:
    engine = make_engine(balance="1000")
    engine.submit_order(market(1, 100))  # 6500 notional at 10x: 650 margin held
    available = engine.balance().available
    assert error_code(lambda: engine.transfer("USDT", available + 1, "contract_to_spot")) == 40027
    engine.transfer("USDT", available, "contract_to_spot")
    assert engine.balance().available == 0


def test_ledger_records_fills_transfers_and_claims() -> None:
    engine = make_engine()
    engine.submit_order(market(1, 10))
    move(engine, "66000")
    engine.submit_order(market(3, 10))
    engine.claim()
    flows = [(row.flow_type, row.symbol) for row in engine.funds.ledger]
    assert flows == [
        (FLOW_COMMISSION, "BTCUSDT"),
        (FLOW_REALIZED_PNL, "BTCUSDT"),
        (FLOW_COMMISSION, "BTCUSDT"),
        (FLOW_TRANSFER, ""),
    ]
    total = sum((row.amount for row in engine.funds.ledger), Decimal(0))
    assert engine.balance().wallet == D(100000) + total


def test_brackets_chain_and_agree_with_max_notional() -> None:
    rows = brackets_for(100)
    assert [b.initial_leverage for b in rows] == [100, 50, 20, 10, 5, 2, 1]
    assert rows[0].notional_cap == max_notional_at(D(100)) == D(500_000)
    for lower, upper in itertools.pairwise(rows):
        assert upper.notional_floor == lower.notional_cap
        # cum keeps maintenance continuous at the boundary between two brackets
        at_floor = upper.notional_floor
        assert at_floor * lower.maint_margin_ratio - lower.cum == (
            at_floor * upper.maint_margin_ratio - upper.cum
        )
    assert brackets_for(50)[0].initial_leverage == 50
    assert [b.initial_leverage for b in brackets_for(75)][:2] == [75, 50]
