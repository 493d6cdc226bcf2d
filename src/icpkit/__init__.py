"""icpkit: derive an Ideal Customer Profile from CRM history and put it to work."""

from icpkit.hugepages import configure as _configure_hugepages

__version__ = "0.1.0"

# Before any array is allocated: numpy's huge-page hint stalls on most kernels' defaults.
_configure_hugepages()
