"""The ICP put to work on a company universe: TAM sizing with what-ifs, and lookalikes."""

from icpkit.operate.lookalike import Lookalike, LookalikeError, Neighbour, find_lookalikes
from icpkit.operate.tam import TamCount, TamError, TamResult, WinRates, size_tam
from icpkit.operate.universe import UniverseError

__all__ = [
    "Lookalike",
    "LookalikeError",
    "Neighbour",
    "TamCount",
    "TamError",
    "TamResult",
    "UniverseError",
    "WinRates",
    "find_lookalikes",
    "size_tam",
]
