"""A local BitMart-protocol exchange simulator, reached over real sockets."""

from zoneguard.sim.config import SimConfig
from zoneguard.sim.server import SimServer, run_sim

__all__ = ["SimConfig", "SimServer", "run_sim"]
