"""The worker's view of a market: a quote must never mix a new price with an old book."""

from __future__ import annotations

from decimal import Decimal

from zoneguard.domain.market import KlineBar, PriceTick
from zoneguard.domain.pricing import maker_entry_price
from zoneguard.domain.values import Side
from zoneguard.exchange.bitmart import BitMartExchange, BitMartSettings
from zoneguard.worker.markets import Markets

D = Decimal


def markets() -> Markets:
    # Never started: the quote bookkeeping under test makes no exchange call.
    return Markets(BitMartExchange(BitMartSettings(api_key="k", api_secret="s", api_memo="m")))


def bar(close: str) -> KlineBar:
    price = D(close)
    return KlineBar("BTCUSDT", "1m", 0, price, price, price, price, D(1))


def test_a_kline_that_moves_the_price_drops_the_book_it_contradicts() -> None:
    known = markets()
    known.update_from_tick(PriceTick("BTCUSDT", D("65800"), bid=D("65799.9"), ask=D("65800.1")))
    quote = known.update_from_kline(bar("65400"))
    assert (quote.last, quote.bid, quote.ask) == (D("65400"), None, None)
    # Priced from the old ask, a long's post-only entry would sit at the top of the zone,
    # above the market: it would cross. From the new price it rests under it.
    price = maker_entry_price(
        Side.LONG, D("64935"), D("65565.5"), quote.last, quote.bid, quote.ask, D("0.1")
    )
    assert price == D("65399.9")


def test_a_side_of_the_book_is_kept_only_while_the_price_stands_still() -> None:
    known = markets()
    known.update_from_tick(PriceTick("BTCUSDT", D("65400"), bid=D("65399.9"), ask=D("65400.1")))
    quote = known.update_from_kline(bar("65400"))
    assert (quote.bid, quote.ask) == (D("65399.9"), D("65400.1"))
    quote = known.update_from_tick(PriceTick("BTCUSDT", D("65300"), bid=D("65299.9"), ask=None))
    assert (quote.last, quote.bid, quote.ask) == (D("65300"), D("65299.9"), None)
