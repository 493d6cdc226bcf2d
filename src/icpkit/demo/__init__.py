"""Synthetic CRM exports with a planted, documented Ideal Customer Profile."""

from icpkit.demo.generator import DemoFiles, make_crm
from icpkit.demo.truth import Drift
from icpkit.demo.universe import Universe, make_universe
from icpkit.demo.websites import Websites, write_websites

__all__ = [
    "DemoFiles",
    "Drift",
    "Universe",
    "Websites",
    "make_crm",
    "make_universe",
    "write_websites",
]
