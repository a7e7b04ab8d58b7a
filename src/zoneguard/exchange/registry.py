"""The venues the worker can trade on, each built from its environment variables.

``ZONEGUARD_VENUE`` names the venue (``bitmart``, the seed's, by default; ``binance``). Each
venue reads its own keys and hosts (``BITMART_*``, ``BINANCE_*``); a host that is a real
exchange (production or the venue's demo) needs ``live=True`` (the worker's ``--live``), so
nobody trades real money by forgetting to point the worker at ``zoneguard sim``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from zoneguard.exchange.binance.adapter import BinanceExchange
from zoneguard.exchange.binance.settings import DEMO_REST_URL as BINANCE_DEMO
from zoneguard.exchange.binance.settings import PRODUCTION_REST_URL as BINANCE_PRODUCTION
from zoneguard.exchange.binance.settings import BinanceSettings
from zoneguard.exchange.bitmart.adapter import BitMartExchange
from zoneguard.exchange.bitmart.settings import DEMO_REST_URL as BITMART_DEMO
from zoneguard.exchange.bitmart.settings import PRODUCTION_REST_URL as BITMART_PRODUCTION
from zoneguard.exchange.bitmart.settings import BitMartSettings
from zoneguard.exchange.port import ExchangePort

VENUE_VARIABLE = "ZONEGUARD_VENUE"
DEFAULT_VENUE = "bitmart"


class VenueConfigError(ValueError):
    """A venue that cannot be built from the environment; the message says what to set."""


@dataclass(frozen=True)
class Venue:
    """A built adapter and the values that must never reach a log line."""

    exchange: ExchangePort
    secrets: tuple[str, ...]


def _bitmart(env: Mapping[str, str], live: bool) -> Venue:
    settings = BitMartSettings.from_env(env)
    _refuse_real_host(
        "BITMART_REST_URL", settings.rest_url, (BITMART_PRODUCTION, BITMART_DEMO), live
    )
    if not settings.has_credentials:
        raise VenueConfigError(
            "BITMART_API_KEY, BITMART_API_SECRET and BITMART_API_MEMO must be set"
        )
    secrets = (settings.api_secret, settings.api_key, settings.api_memo)
    return Venue(BitMartExchange(settings), secrets)


def _binance(env: Mapping[str, str], live: bool) -> Venue:
    settings = BinanceSettings.from_env(env)
    _refuse_real_host(
        "BINANCE_REST_URL", settings.rest_url, (BINANCE_PRODUCTION, BINANCE_DEMO), live
    )
    if not settings.has_credentials:
        raise VenueConfigError("BINANCE_API_KEY and BINANCE_API_SECRET must be set")
    return Venue(BinanceExchange(settings), (settings.api_secret, settings.api_key))


VENUES: dict[str, Callable[[Mapping[str, str], bool], Venue]] = {
    "bitmart": _bitmart,
    "binance": _binance,
}


def venue_from_env(env: Mapping[str, str], *, live: bool) -> Venue:
    name = (env.get(VENUE_VARIABLE) or DEFAULT_VENUE).strip().lower()
    build = VENUES.get(name)
    if build is None:
        known = ", ".join(sorted(VENUES))
        raise VenueConfigError(f"{VENUE_VARIABLE}={name!r} is not a venue (one of: {known})")
    return build(env, live)


def _refuse_real_host(variable: str, url: str, real: tuple[str, ...], live: bool) -> None:
    if url.rstrip("/") in real and not live:
        raise VenueConfigError(
            f"{variable} is {url}, a real exchange: pass --live to trade there "
            "(point it at `zoneguard sim` to practise)"
        )
