"""What the keyed company APIs (People Data Labs, Apollo, Clearbit-format) share: reading
the key from the secrets, asking one account's record, and saying what an answer means
(a match, no match, a refused key, an outage) without the key ever reaching a message.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import yaml

from icpkit.config import EnrichSettings
from icpkit.enrich.context import Context
from icpkit.enrich.fetch import Fetcher, FetchError
from icpkit.enrich.model import Lookup, Status, Target
from icpkit.errors import IcpkitError


class NotConfigured(IcpkitError):
    """A keyed provider asked for while its key is not set."""


def require_key(secrets: Mapping[str, str], variable: str, provider: str) -> str:
    """The key in ``secrets[variable]``, or a NotConfigured naming the variable.

    >>> require_key({"PDL_API_KEY": " k "}, "PDL_API_KEY", "pdl")
    'k'
    """
    key = (secrets.get(variable) or "").strip()
    if not key:
        raise NotConfigured(
            f"provider {provider!r} is not configured: set the environment variable "
            f"{variable} to its API key",
            hint=f"export {variable}=... (keep keys out of icp.yaml and version control)",
        )
    return key


def redact(text: str, key: str) -> str:
    """``text`` with every occurrence of ``key`` replaced, for messages built from a
    server's words or an exception's.

    >>> redact("bad key abc123", "abc123")
    'bad key ***'
    """
    return text.replace(key, "***") if key else text


class KeyedProvider:
    """A company API asked one account a call with a key: the key read once (a clear error
    naming its variable when it is missing, never its value), ``_one`` per target."""

    name: str
    key_variable: str
    cost = 1.0
    batch_size = 1
    ttl_days = 90.0
    keyless = False

    def __init__(self, settings: EnrichSettings, secrets: Mapping[str, str]) -> None:
        self.settings = settings
        self._key = require_key(secrets, self.key_variable, self.name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"  # never the key

    async def lookup(self, targets: Sequence[Target], ctx: Context) -> list[Lookup]:
        return [await self._one(target, ctx) for target in targets]

    async def _one(self, target: Target, ctx: Context) -> Lookup:
        raise NotImplementedError


@dataclass(frozen=True)
class Answer:
    """One API call's outcome: ``kind`` is 'found' (``record`` holds the JSON object),
    'miss' or 'failed' (``reason`` says why in words)."""

    kind: Status
    record: dict[str, Any] | None = None
    reason: str | None = None
    status: int | None = None


async def get_record(
    fetcher: Fetcher,
    url: str,
    *,
    label: str,
    key: str,
    headers: Mapping[str, str],
    params: Mapping[str, str],
    pending: tuple[int, ...] = (),
) -> Answer:
    """GET one record of a keyed API and classify the answer.

    200 with a JSON object: found. 404: miss (no record); 400/422: miss (the API does
    not accept this account's domain or name). 401/403: failed, the key was refused; 402:
    failed, no credits left. A status in ``pending`` (Clearbit's 202): failed, not ready
    yet, so the next run asks again. 429 and 5xx that survive the fetcher's retries:
    failed with the status. A failed account is asked again by a later run.
    """
    try:
        response = await fetcher.get(url, headers=headers, params=params, robots=False)
    except FetchError as exc:
        return Answer("failed", reason=redact(f"{label}: {exc.reason}", key))
    status = response.status
    if status == 404:
        return Answer("miss", reason=f"{label} has no record", status=status)
    if status in (401, 403):
        return Answer("failed", reason=f"{label} refused the key ({status})", status=status)
    if status == 402:
        return Answer("failed", reason=f"{label}: no credits left (402)", status=status)
    if status in (400, 422):
        # The account's domain or name is not one the API accepts: asking again won't help.
        return Answer(
            "miss", reason=f"{label} did not accept the request ({status})", status=status
        )
    if status in pending:
        return Answer("failed", reason=f"{label}: not ready, asked again next run", status=status)
    if status == 429:
        return Answer("failed", reason=f"{label}: rate limited (429) after retries", status=status)
    if status >= 500:
        return Answer("failed", reason=f"{label}: server error ({status})", status=status)
    if status != 200:
        return Answer("failed", reason=f"{label}: unexpected status {status}", status=status)
    if response.truncated:
        return Answer("failed", reason=f"{label}: response cut at the size cap", status=status)
    try:
        record = json.loads(response.body)
    except (ValueError, UnicodeDecodeError):
        return Answer("failed", reason=f"{label}: the response is not JSON", status=status)
    if not isinstance(record, dict):
        return Answer("failed", reason=f"{label}: the response is not a JSON object", status=status)
    return Answer("found", record=record, status=status)


def text_of(value: Any) -> str | None:
    """A JSON scalar as observation text: None for null, blank, true/false, a list or an
    object.

    >>> text_of(51), text_of(" x "), text_of(""), text_of(None), text_of(2.5e6)
    ('51', 'x', None, None, '2500000')
    """
    if value is None or isinstance(value, (dict, list, bool)):
        return None  # no field icpkit fills is a yes/no
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    text = str(value).strip()
    return text or None


def list_of(value: Any) -> list[Any]:
    """A JSON array as a list; anything else (null, a string, an object) as none, so a
    malformed answer never turns a string into one item per character.

    >>> list_of(["a"]), list_of("abc"), list_of(None)
    (['a'], [], [])
    """
    return value if isinstance(value, list) else []


def url_of(value: Any) -> str | None:
    """A profile URL as the source wrote it, with https:// when it has no scheme.

    >>> url_of("linkedin.com/company/acme"), url_of(None)
    ('https://linkedin.com/company/acme', None)
    """
    text = text_of(value) if isinstance(value, str) else None
    if text is None or "." not in text or " " in text:
        return None
    return text if "://" in text else f"https://{text}"


_DAY = re.compile(r"\s*(\d{4})-(\d{2})(?:-(\d{2}))?")


def day_of(value: Any) -> dt.datetime | None:
    """The day an ISO date or timestamp names (UTC midnight), None when it names none;
    a month alone ('2021-11', as some sources write funding dates) means its first day.

    >>> day_of("2024-03-05T10:00:00.000+00:00"), day_of("2021-11"), day_of("soon")
    (datetime.datetime(2024, 3, 5, 0, 0, tzinfo=datetime.timezone.utc), \
datetime.datetime(2021, 11, 1, 0, 0, tzinfo=datetime.timezone.utc), None)
    """
    text = text_of(value)
    found = _DAY.match(text) if text else None
    if found is None:
        return None
    year, month, day = int(found.group(1)), int(found.group(2)), int(found.group(3) or 1)
    try:
        return dt.datetime(year, month, day, tzinfo=dt.UTC)
    except ValueError:
        return None


def tool_key(name: str) -> str:
    """A tool's name compared without case, spaces or punctuation.

    >>> tool_key("Google-Analytics"), tool_key("google_analytics")
    ('googleanalytics', 'googleanalytics')
    """
    return "".join(ch for ch in name.casefold() if ch.isalnum())


# Names vendors give a tool that differ from icpkit's by more than case and punctuation.
_ALIASES = {
    "googleapps": "Google Workspace",
    "gsuite": "Google Workspace",
    "gmail": "Google Workspace",
    "office365": "Microsoft 365",
    "microsoftoffice365": "Microsoft 365",
    "outlook": "Microsoft 365",
    "microsoftexchangeonline": "Microsoft 365",
    "googleanalytics4": "Google Analytics",
    "ga4": "Google Analytics",
    "universalanalytics": "Google Analytics",
    "googleadwords": "Google Ads",
    "googleadwordsconversion": "Google Ads",
    "googledynamicremarketing": "Google Ads",
    "hubspotcrm": "HubSpot",
    "hubspotmarketinghub": "HubSpot",
    "salesforcecrm": "Salesforce",
    "salesforcesalescloud": "Salesforce",
    "salesforcepardot": "Pardot",
    "exacttarget": "Salesforce Marketing Cloud",
    "intercomchat": "Intercom",
    "zendeskchat": "Zendesk",
    "zopim": "Zendesk",
    "wordpressorg": "WordPress",
    "facebookpixel": "Meta Pixel",
    "facebookcustomaudiences": "Meta Pixel",
    "linkedinmarketingsolutions": "LinkedIn Insight Tag",
    "twitteradvertising": "Twitter Pixel",
    "apollo": "Apollo.io",
    "zoominfowebsights": "ZoomInfo",
    "mandrill": "Mailchimp Transactional",
    "sendinblue": "Brevo",
    "convertkit": "Kit",
    "adobedtm": "Adobe Launch",
    "adobedynamictagmanagement": "Adobe Launch",
    "omniture": "Adobe Analytics",
    "adobesitecatalyst": "Adobe Analytics",
}


@functools.cache
def canonical_tools() -> dict[str, str]:
    """icpkit's tool names (``enrich/fingerprints.yaml``) by :func:`tool_key`; empty while
    that file is absent or unreadable, so names are then kept as the source wrote them."""
    try:
        text = (resources.files("icpkit.enrich") / "fingerprints.yaml").read_text("utf-8")
        data = yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError):
        return {}
    return {tool_key(name): name for name in _tool_names(data)}


def _tool_names(data: Any) -> list[str]:
    """The tool names of a fingerprint document: a mapping of name -> rule, a list of
    rules with ``name``, or either under a ``tools``/``technologies`` key."""
    if isinstance(data, dict):
        for holder in ("tools", "technologies", "fingerprints"):
            if holder in data and isinstance(data[holder], (dict, list)):
                return _tool_names(data[holder])
        return [str(name) for name in data if isinstance(name, str)]
    if isinstance(data, list):
        return [str(item["name"]) for item in data if isinstance(item, dict) and "name" in item]
    return []


def canonical_tool(name: str, known: Mapping[str, str] | None = None) -> str:
    """``name`` as icpkit's fingerprints write it when it is one of them (ignoring case and
    punctuation, and a few vendor aliases), else ``name`` as given.

    >>> canonical_tool("hubspot", {"hubspot": "HubSpot"}), canonical_tool("Acme DB", {})
    ('HubSpot', 'Acme DB')
    """
    names = canonical_tools() if known is None else known
    key = tool_key(name)
    if key in names:
        return names[key]
    alias = _ALIASES.get(key)
    if alias is not None and (not names or tool_key(alias) in names):
        return alias
    return name.strip()
