"""BitMart error codes and the HTTP status BitMart pairs with each (PROTOCOL §3.2, §3.3).

The simulator speaks BitMart's own numbers on purpose: a client must learn to read them
here exactly as it will against the real venue.
"""

from __future__ import annotations

# Protocol-level (gateway) codes.
NOT_FOUND = 30000
KEY_EMPTY = 30001
KEY_NOT_FOUND = 30002
SIGN_EMPTY = 30004
SIGN_WRONG = 30005
TIMESTAMP_EMPTY = 30006
TIMESTAMP_OUT_OF_WINDOW = 30007
TIMESTAMP_BAD_FORMAT = 30008
TOO_MANY_REQUESTS = 30013
SERVICE_UNAVAILABLE = 30014
BODY_NOT_JSON = 30018

# Futures business codes (always HTTP 400).
PARSE_ERROR = 40007
INVALID_REQUEST = 40011
CLOSE_SIZE_TOO_LARGE = 40020
POSITION_NOT_EXIST = 40021
INSUFFICIENT_BALANCE = 40027
LEVERAGE_TOO_LARGE = 40029
LEVERAGE_TOO_SMALL = 40030
SYMBOL_NOT_FOUND = 40034
ORDER_NOT_EXIST = 40035
STATE_NOT_ALLOWED = 40036
LEVERAGE_CONFLICT = 40040
INVALID_SIDE = 40041
INVALID_TYPE = 40042
PRECISION_INVALID = 40043
SIZE_OUT_OF_RANGE = 40044
INVALID_OPEN_TYPE = 40045
CLIENT_ID_NOT_ALNUM = 40048
CLIENT_ID_TOO_LONG = 40049
CLIENT_ID_DUPLICATE = 40050
POSITION_MODE_REFUSED = 40059

MAKER_ONLY_WOULD_CROSS_MESSAGE = "Maker only order would be filled immediately"
"""BitMart documents no dedicated code for a crossing maker-only order (PROTOCOL §11), so the
simulator's ``post_only_cross="reject"`` answers 40011 with this message; clients recognise
it by the word "maker"."""


class SimError(Exception):
    """A failure the simulator reports to the client as a BitMart envelope."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return http_status_for(code=self.code)


def http_status_for(code: int) -> int:
    """The HTTP status BitMart's error tables give for ``code``."""
    if code == NOT_FOUND:
        return 404
    if 30001 <= code <= 30008:
        return 401
    if 30010 <= code <= 30012:
        return 403
    if code == TOO_MANY_REQUESTS:
        return 429
    if code in (SERVICE_UNAVAILABLE, BODY_NOT_JSON):
        return 503
    if code == 30017:
        return 418
    if code in (30016, 30019, 30030, 30031, 1000):
        return 200
    return 400
