"""Synthetic CRM exports with a planted, documented Ideal Customer Profile."""

from icpkit.demo.generator import DemoFiles, make_crm
from icpkit.demo.truth import Drift
from icpkit.demo.universe import Universe, make_universe

__all__ = ["DemoFiles", "Drift", "Universe", "make_crm", "make_universe"]
