"""Money that moves without a trade, and the account's ledger (PROTOCOL §6.7).

* ``transfer-contract`` moves USDT between a simulated spot wallet and the futures wallet.
* ``claim`` (demo host) tops the futures wallet up.
* ``transaction-history`` lists every movement of the futures wallet: transfers and claims
  (flow 1), realised PnL (2) and commissions (4) of fills. Funding (3) and liquidation (5)
  are never charged by the simulator, so they never appear.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

FLOW_TRANSFER = 1
FLOW_REALIZED_PNL = 2
FLOW_FUNDING_FEE = 3
FLOW_COMMISSION = 4
FLOW_LIQUIDATION = 5
FLOW_NAMES = {
    FLOW_TRANSFER: "Transfer",
    FLOW_REALIZED_PNL: "Realized PNL",
    FLOW_FUNDING_FEE: "Funding Fee",
    FLOW_COMMISSION: "Commission Fee",
    FLOW_LIQUIDATION: "Liquidation Clearance",
}
"""``flow_type`` -> ``type`` text, as bitmart-skills lists them."""

TransferType = Literal["spot_to_contract", "contract_to_spot"]
TRANSFER_TYPES: tuple[TransferType, ...] = ("spot_to_contract", "contract_to_spot")
MIN_TRANSFER = Decimal("0.01")
MAX_TRANSFER = Decimal(10_000_000_000)


@dataclass(frozen=True, slots=True)
class Transaction:
    tran_id: int
    symbol: str  # "" for transfers
    flow_type: int
    amount: Decimal  # signed: negative leaves the futures wallet
    time: int


@dataclass(frozen=True, slots=True)
class Transfer:
    transfer_id: int
    currency: str
    amount: Decimal
    type: TransferType
    timestamp: int


@dataclass(slots=True)
class Funds:
    """The spot wallet, the transfers made, and the futures wallet's ledger."""

    spot_balance: Decimal
    transfers: list[Transfer] = field(default_factory=list)
    ledger: list[Transaction] = field(default_factory=list)
    _ids: itertools.count[int] = field(
        default_factory=lambda: itertools.count(664_651_258_694_168_577)
    )

    def record(self, symbol: str, flow_type: int, amount: Decimal, time: int) -> None:
        self.ledger.append(Transaction(next(self._ids), symbol, flow_type, amount, time))

    def add_transfer(self, kind: TransferType, amount: Decimal, time: int) -> Transfer:
        transfer = Transfer(next(self._ids), "USDT", amount, kind, time)
        self.transfers.append(transfer)
        return transfer
