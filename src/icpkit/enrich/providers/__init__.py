"""The providers icpkit ships, by name, built on demand (a keyed provider's module is only
imported when it is asked for)."""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from icpkit.config import EnrichSettings
from icpkit.enrich.model import Provider
from icpkit.errors import IcpkitError

BUILT_IN: dict[str, str] = {
    "website": "icpkit.enrich.providers.website:WebsiteProvider",
    "technographics": "icpkit.enrich.technographics:TechnographicsProvider",
    "hiring": "icpkit.enrich.providers.hiring:HiringProvider",
    "edgar": "icpkit.enrich.providers.edgar:EdgarProvider",
    "pdl": "icpkit.enrich.providers.pdl:PdlProvider",
    "apollo": "icpkit.enrich.providers.apollo:ApolloProvider",
    "clearbit": "icpkit.enrich.providers.clearbit:ClearbitProvider",
    "research": "icpkit.enrich.providers.research:ResearchProvider",
}
"""Provider name -> 'module:class'; each class takes (settings, secrets)."""

KEYLESS = ("website", "technographics", "hiring", "edgar")


class UnknownProvider(IcpkitError):
    """A provider name icpkit does not know."""


def make(name: str, settings: EnrichSettings, secrets: Mapping[str, str]) -> Provider:
    """The provider called ``name``, configured from ``settings`` and ``secrets``."""
    target = BUILT_IN.get(name)
    if target is None:
        raise UnknownProvider(
            f"no enrichment provider is called {name!r}",
            hint=f"known providers: {', '.join(BUILT_IN)}; a file of your own enrichment "
            "goes in with `icp enrich --file FILE`",
        )
    module, _, cls = target.partition(":")
    factory = getattr(importlib.import_module(module), cls)
    provider: Provider = factory(settings, secrets)
    return provider
