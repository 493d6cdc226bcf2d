"""Building a CRM's connector by name from its credentials (icpkit.crm.credentials).

The Salesforce and Pipedrive modules are imported only when asked for, so a HubSpot sync
never loads them. Each base URL can be pointed elsewhere (``ICPKIT_HUBSPOT_URL``,
``ICPKIT_PIPEDRIVE_URL``; Salesforce's instance URL is one already): a sandbox, a proxy, the
loopback emulators of the tests."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any, cast

from icpkit.crm.base import CRMS, Connector, CrmError, CrmName
from icpkit.crm.credentials import credentials

CLASSES: dict[CrmName, tuple[str, str]] = {
    "hubspot": ("icpkit.crm.hubspot", "HubSpotConnector"),
    "salesforce": ("icpkit.crm.salesforce", "SalesforceConnector"),
    "pipedrive": ("icpkit.crm.pipedrive", "PipedriveConnector"),
}


def crm_name(name: str) -> CrmName:
    """``name`` as one of the CRMs synced, or a message listing them.

    >>> crm_name("HubSpot")
    'hubspot'
    """
    key = name.strip().lower()
    if key not in CRMS:
        raise CrmError(f"unknown CRM {name!r}: one of {', '.join(CRMS)}")
    return key  # type: ignore[return-value]  # checked against CRMS just above


def connector(name: str, *, environ: Mapping[str, str] | None = None) -> Connector:
    """The connector of CRM ``name``, with the credentials found in ``environ`` (default: the
    process's environment) or the secrets file."""
    crm = crm_name(name)
    found = credentials(crm, environ)
    module, cls_name = CLASSES[crm]
    cls: Any = getattr(importlib.import_module(module), cls_name)
    if crm == "hubspot":
        kwargs: dict[str, Any] = {"token": found["HUBSPOT_ACCESS_TOKEN"]}
        if found.get("ICPKIT_HUBSPOT_URL"):
            kwargs["base_url"] = found["ICPKIT_HUBSPOT_URL"]
        return cast(Connector, cls(**kwargs))
    if hasattr(cls, "from_credentials"):
        return cast(Connector, cls.from_credentials(found))
    if crm == "salesforce":
        return cast(
            Connector,
            cls(
                instance_url=found["SALESFORCE_INSTANCE_URL"],
                access_token=found["SALESFORCE_ACCESS_TOKEN"],
            ),
        )
    kwargs = {"api_token": found["PIPEDRIVE_API_TOKEN"]}
    if found.get("PIPEDRIVE_COMPANY_DOMAIN"):
        kwargs["company_domain"] = found["PIPEDRIVE_COMPANY_DOMAIN"]
    if found.get("ICPKIT_PIPEDRIVE_URL"):
        kwargs["base_url"] = found["ICPKIT_PIPEDRIVE_URL"]
    return cast(Connector, cls(**kwargs))
