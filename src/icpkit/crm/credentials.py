"""CRM credentials: from the environment first, then the secrets file outside version control
that enrichment reads too (``ICPKIT_SECRETS_FILE``, default ``~/.config/icpkit/secrets.env``).

A credential's value is never printed, logged or stored; a missing one is named (never shown)
in the error."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from icpkit.crm.base import CrmError, CrmName
from icpkit.enrich.secrets import read_named, secrets_file

CREDENTIALS: dict[CrmName, tuple[str, ...]] = {
    "hubspot": ("HUBSPOT_ACCESS_TOKEN",),
    "salesforce": ("SALESFORCE_INSTANCE_URL", "SALESFORCE_ACCESS_TOKEN"),
    "pipedrive": ("PIPEDRIVE_API_TOKEN",),
}
"""The names each CRM needs."""

OPTIONAL: dict[CrmName, tuple[str, ...]] = {
    "hubspot": ("ICPKIT_HUBSPOT_URL",),
    "salesforce": (),
    "pipedrive": ("PIPEDRIVE_COMPANY_DOMAIN", "ICPKIT_PIPEDRIVE_URL"),
}
"""Names a CRM may use: the base-URL overrides (tests, the emulator) and extras."""


class MissingCredential(CrmError):
    """A credential the CRM needs is in neither the environment nor the secrets file."""


def read_credentials(
    names: Sequence[str], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The values of ``names`` found: the secrets file's, overridden by the environment's.

    >>> read_credentials(["HUBSPOT_ACCESS_TOKEN"],
    ...                  {"HUBSPOT_ACCESS_TOKEN": "t", "ICPKIT_SECRETS_FILE": "/nonexistent"})
    {'HUBSPOT_ACCESS_TOKEN': 't'}
    """
    return read_named(names, environ)


def credentials(crm: CrmName, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Everything ``crm`` needs (and the optional names found), or :class:`MissingCredential`
    naming what is missing and where it was looked for."""
    environ = os.environ if environ is None else environ
    found = read_credentials([*CREDENTIALS[crm], *OPTIONAL[crm]], environ)
    missing = [n for n in CREDENTIALS[crm] if not found.get(n)]
    if missing:
        raise MissingCredential(
            f"{crm}: {' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set",
            hint=f"set {' and '.join(missing)} in the environment or in {secrets_file(environ)} "
            "(KEY=VALUE lines, outside version control)",
        )
    return found
