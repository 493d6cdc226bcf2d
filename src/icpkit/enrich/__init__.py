"""Enrichment: firmographic, technographic and intent data for the workspace's accounts,
from keyless sources (websites, job boards, SEC filings), keyed providers (People Data
Labs, Apollo, Clearbit-format APIs), files of your own and an AI researcher, each value
kept with its provenance (provider, URL, time, confidence) and the winners chosen per
field by a waterfall. See docs/enrichment.md."""

from icpkit.enrich.providers import make as make_provider
from icpkit.enrich.secrets import read_secrets

__all__ = ["make_provider", "read_secrets"]
