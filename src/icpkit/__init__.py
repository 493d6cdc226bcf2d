"""icpkit: derive an Ideal Customer Profile from CRM history and put it to work."""

__version__ = "0.1.0"
