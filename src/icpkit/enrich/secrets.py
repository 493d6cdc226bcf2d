"""API keys for keyed providers: from the environment, or from a secrets file outside the
workspace (``ICPKIT_SECRETS_FILE``, default ``~/.config/icpkit/secrets.env``: KEY=VALUE
lines). Never from ``icp.yaml`` or anything else a repository would hold; a key's value is
never printed, logged or stored."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from icpkit.config import EnrichSettings

KEY_NAMES = ("PDL_API_KEY", "APOLLO_API_KEY", "CLEARBIT_API_KEY", "CLEARBIT_BASE_URL")
SECRETS_FILE_ENV = "ICPKIT_SECRETS_FILE"


def secrets_file(environ: Mapping[str, str] | None = None) -> Path:
    environ = os.environ if environ is None else environ
    named = environ.get(SECRETS_FILE_ENV)
    return Path(named).expanduser() if named else Path("~/.config/icpkit/secrets.env").expanduser()


def read_secrets(
    settings: EnrichSettings, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The keys the providers may use: the secrets file's, overridden by the environment's.

    >>> read_secrets(EnrichSettings(), {"PDL_API_KEY": "k", "HOME_DIR": "x",
    ...                                 "ICPKIT_SECRETS_FILE": "/nonexistent"})
    {'PDL_API_KEY': 'k'}
    """
    return read_named(sorted({*KEY_NAMES, settings.research.api_key_env}), environ)


def read_named(names: Sequence[str], environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The values of ``names`` found: the secrets file's, overridden by the environment's
    (the one reading of the file, for providers' keys and CRMs' credentials alike).

    >>> read_named(["A_KEY"], {"A_KEY": "k", "ICPKIT_SECRETS_FILE": "/nonexistent"})
    {'A_KEY': 'k'}
    """
    environ = os.environ if environ is None else environ
    found: dict[str, str] = {}
    path = secrets_file(environ)
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and not key.startswith("#") and key.strip() in names:
                found[key.strip()] = value.strip().strip("'\"")
    for name in names:
        if environ.get(name):
            found[name] = environ[name]
    return found
