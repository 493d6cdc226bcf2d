"""Synthetic CRM exports with a planted, documented Ideal Customer Profile."""

from icpkit.demo.generator import DemoFiles, make_crm

__all__ = ["DemoFiles", "make_crm"]
