"""Fixtures of the enrichment tests: a loopback web server that answers for any host."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from icpkit.config import EnrichSettings
from loopback import Authority, Web, authority, start, start_tls


@pytest.fixture
def web() -> Iterator[Web]:
    """A fresh server on 127.0.0.1; every host name reaches it through ``web.connect_to``."""
    site = Web()
    server = start(site)
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def settings(web: Web) -> EnrichSettings:
    """Enrichment settings pointing every host at ``web``, with short timeouts for tests."""
    return EnrichSettings(connect_to=web.connect_to, timeout_s=3.0, retries=1, host_rate=1000.0)


@pytest.fixture(scope="session")
def loopback_ca(tmp_path_factory: pytest.TempPathFactory) -> Authority:
    """One test certificate authority for the session, and a certificate for the API hosts
    (``loopback.TLS_HOSTS``)."""
    return authority(str(tmp_path_factory.mktemp("tls")))


@pytest.fixture
def web_tls(web: Web, loopback_ca: Authority) -> Iterator[Web]:
    """``web`` served over TLS as well (same routes and request record): https URLs of the
    hosts in ``loopback.TLS_HOSTS`` reach it through ``web.tls_connect_to``."""
    server = start_tls(web, loopback_ca)
    try:
        yield web
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def tls_settings(web_tls: Web, loopback_ca: Authority) -> EnrichSettings:
    """Like ``settings``, with port 443 sent to ``web_tls`` and its CA trusted (``ca_bundle``)."""
    return EnrichSettings(
        connect_to=web_tls.tls_connect_to,
        ca_bundle=loopback_ca.pem,
        timeout_s=3.0,
        retries=1,
        host_rate=1000.0,
    )
