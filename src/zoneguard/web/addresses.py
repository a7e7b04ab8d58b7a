"""Which addresses are this machine's own: the rule "open only on loopback" of both servers."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str | None) -> bool:
    """``localhost``, 127.0.0.0/8 or ::1, also written as an IPv4-mapped IPv6 address
    (``::ffff:127.0.0.1``, what a dual-stack socket reports). Anything else, a name
    included, is not: the caller then asks for a token or a signature."""
    if host is None:
        return False
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback
