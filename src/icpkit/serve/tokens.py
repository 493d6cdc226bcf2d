"""API tokens of a workspace: created once, shown once, stored only as a salted HMAC.

A token reads ``icp_<id>_<secret>``: the id (public, 8 hex digits) finds its record in
``.icp/tokens.json``, the secret (32 random bytes) is checked against the record's
HMAC-SHA256 under the record's own salt. The file never holds a token, so a copy of the
workspace gives no access; it lives outside the DuckDB store, so the server never holds the
store's lock to check one. Revoked tokens stay listed, marked revoked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from icpkit.errors import IcpkitError
from icpkit.output.files import write_atomic

Scope = Literal["score", "read"]
SCOPES: tuple[Scope, ...] = ("score", "read")
"""``score`` may score and read; ``read`` may read the ICP, its versions and the metrics."""
TOKENS_FILE = Path(".icp") / "tokens.json"
PREFIX = "icp_"
_TOKEN = re.compile(r"^icp_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class TokenError(IcpkitError):
    """A token cannot be created, revoked or read as asked (the message says why)."""


@dataclass(frozen=True)
class TokenRecord:
    """One token as the workspace keeps it: never the token itself, only its salted HMAC."""

    name: str
    scope: Scope
    id: str
    salt: str
    digest: str
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        """Whether the token still opens the API."""
        return self.revoked_at is None

    def allows(self, scope: Scope) -> bool:
        """Whether this token's scope covers ``scope`` (score covers read)."""
        return self.scope == "score" or scope == "read"


def _digest(salt: str, secret: str) -> str:
    return hmac.new(bytes.fromhex(salt), secret.encode("ascii"), hashlib.sha256).hexdigest()


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


class TokenStore:
    """The tokens of the workspace at ``root`` (``.icp/tokens.json``)."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / TOKENS_FILE

    def records(self) -> list[TokenRecord]:
        """Every token record, revoked ones included, oldest first."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise TokenError(f"{self.path}: cannot read ({exc.strerror or exc})") from exc
        try:
            data = json.loads(text)
            return [TokenRecord(**row) for row in data["tokens"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise TokenError(
                f"{self.path}: not a tokens file icpkit wrote ({type(exc).__name__}); "
                "restore it, or delete it and create the tokens again"
            ) from None

    def _write(self, records: list[TokenRecord]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {"tokens": [asdict(r) for r in records]}
        write_atomic(self.path, json.dumps(body, indent=2) + "\n")
        os.chmod(self.path, 0o600)

    def create(self, name: str, scope: str = "score") -> tuple[TokenRecord, str]:
        """A new token named ``name``: its record, and the token (shown once, kept nowhere)."""
        if not _NAME.match(name):
            raise TokenError(
                f"token name {name!r}: use letters, digits, '.', '_' or '-' (at most 64)"
            )
        if scope not in SCOPES:
            raise TokenError(f"token scope {scope!r}: one of {', '.join(SCOPES)}")
        records = self.records()
        if any(r.name == name and r.active for r in records):
            raise TokenError(
                f"a token named {name!r} exists already",
                hint=f"revoke it first (icp token revoke {name}) or choose another name",
            )
        ids = {r.id for r in records}
        token_id = secrets.token_hex(4)
        while token_id in ids:
            token_id = secrets.token_hex(4)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        record = TokenRecord(name, scope, token_id, salt, _digest(salt, secret), _now())  # type: ignore[arg-type]
        self._write([*records, record])
        return record, f"{PREFIX}{token_id}_{secret}"

    def revoke(self, name: str) -> TokenRecord:
        """Revoke the active token named ``name``; the record stays, marked revoked."""
        records = self.records()
        found = [i for i, r in enumerate(records) if r.name == name and r.active]
        if not found:
            known = sorted({r.name for r in records if r.active})
            raise TokenError(
                f"no active token named {name!r}",
                hint=f"active tokens: {', '.join(known)}" if known else "there is none",
            )
        i = found[0]
        old = records[i]
        records[i] = TokenRecord(**{**asdict(old), "revoked_at": _now()})
        self._write(records)
        return records[i]

    def stamp(self) -> tuple[int, int] | None:
        """The file's modification time and size (None: no file), to notice a change."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size


def check_token(records: list[TokenRecord], token: str) -> TokenRecord | None:
    """The active record ``token`` belongs to, or None (malformed, unknown, wrong or revoked).

    >>> check_token([], "icp_00000000_" + "x" * 43) is None
    True
    """
    m = _TOKEN.match(token)
    if m is None:
        return None
    token_id, secret = m.groups()
    for record in records:
        if record.id == token_id and record.active:
            if hmac.compare_digest(record.digest, _digest(record.salt, secret)):
                return record
            return None
    return None


def describe(record: TokenRecord) -> dict[str, Any]:
    """What ``icp token list`` shows of a token: never its digest or salt."""
    return {
        "name": record.name,
        "scope": record.scope,
        "id": record.id,
        "created_at": record.created_at,
        "revoked_at": record.revoked_at,
    }
