"""The review log of a workspace: every review, adoption and rollback of the ICP in force,
with who, when and why, kept in ``.icp/reviews.json``; and when the next review is due.

Light on purpose (the standard library and atomic writes only): ``icp summary`` reads it to
say when a review is due, and must start fast. A review or an adoption resets the clock; so
does a derivation, through the derivation day of the ICP in force::

    >>> import datetime as dt
    >>> due_on(dt.date(2026, 1, 10), None, 90)
    datetime.date(2026, 4, 10)
    >>> due_on(dt.date(2026, 1, 10), dt.date(2026, 3, 1), 90)
    datetime.date(2026, 5, 30)
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from icpkit.errors import IcpkitError
from icpkit.output.files import write_atomic
from icpkit.output.versions import REVIEWS, check_version

LOG_NAME = "reviews.json"
Event = Literal["review", "adopt", "rollback"]
EVENTS: tuple[Event, ...] = ("review", "adopt", "rollback")


class ReviewLogError(IcpkitError):
    """The review log cannot be read, or a rollback has nothing to go back to."""


@dataclass(frozen=True)
class LogEntry:
    """One event: a review (``version`` in force, ``proposal`` saved, its recommendation),
    an adoption or a rollback (``version`` put in force, ``previous`` the one it replaced)."""

    event: Event
    at: str  # UTC, ISO 8601
    by: str
    version: int
    previous: int | None = None
    proposal: int | None = None
    recommendation: str | None = None
    why: str = ""

    @property
    def day(self) -> dt.date:
        """The day of the event (UTC)."""
        return dt.datetime.fromisoformat(self.at).date()


@dataclass(frozen=True)
class ReviewStatus:
    """When the next review is due: ``due_on``, whether that day has come by ``today``, and
    the last review or adoption (None when there was none: the ICP's derivation day counts)."""

    every_days: int
    due_on: dt.date
    due: bool
    last: dt.date | None
    last_event: str | None = None
    days_overdue: int = field(default=0)


@dataclass(frozen=True)
class Adoption:
    """What ``icp adopt`` or ``icp rollback`` did: the version now in force, the one it
    replaced, whether anything changed, the version hand edits were saved as first (None:
    there were none) and the rules that changed, a line each."""

    version: int
    previous: int | None
    changed: bool
    edits_saved_as: int | None = None
    changes: list[str] = field(default_factory=list)


def changelog_entry(entry: LogEntry) -> str:
    """The CHANGELOG.md entry of an adoption or a rollback: heading, who and why."""
    title = "Adopted" if entry.event == "adopt" else "Rolled back to"
    was = f" (was v{entry.previous})" if entry.previous is not None else ""
    lines = [f"## {title} v{entry.version} — {entry.day:%Y-%m-%d}", "", f"By {entry.by}{was}."]
    if entry.why:
        lines += ["", entry.why.strip()]
    return "\n".join(lines) + "\n"


def who() -> str:
    """The person running icpkit, as the operating system names them."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return os.environ.get("USER") or "unknown"


def now() -> str:
    """The current time in UTC as the log writes it."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def today() -> dt.date:
    """Today in UTC, the calendar the log's days are in."""
    return dt.datetime.now(dt.UTC).date()


def due_on(derived: dt.date, last: dt.date | None, every_days: int) -> dt.date:
    """The day the next review is due: ``every_days`` after the later of the ICP's
    derivation day and the last review or adoption."""
    start = max(derived, last) if last is not None else derived
    return start + dt.timedelta(days=every_days)


class ReviewLog:
    """The review log of the workspace at ``root`` (``.icp/reviews.json``)."""

    def __init__(self, root: Path) -> None:
        self.path = Path(root) / ".icp" / LOG_NAME

    def entries(self) -> list[LogEntry]:
        """Every event, oldest first (none before the first review or adoption)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ReviewLogError(f"{self.path}: cannot read ({exc.strerror or exc})") from exc
        try:
            data = json.loads(text)
            check_version("review log", data.get("schema_version"), REVIEWS, str(self.path))
            return [LogEntry(**item) for item in data["events"]]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ReviewLogError(
                f"{self.path}: not a review log icpkit wrote ({type(exc).__name__}: {exc})",
                hint="restore it from a backup, or move it away to start a new log",
            ) from None

    def append(self, entry: LogEntry) -> None:
        """Add ``entry`` (the whole file is rewritten atomically)."""
        events = [asdict(e) for e in (*self.entries(), entry)]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = {"schema_version": REVIEWS, "events": events}
        write_atomic(self.path, json.dumps(body, indent=2, ensure_ascii=False) + "\n")

    def last_review_or_adoption(self) -> LogEntry | None:
        """The latest review, adoption or rollback."""
        entries = self.entries()
        return entries[-1] if entries else None

    def adoption_to_undo(self) -> LogEntry | None:
        """The latest adoption a rollback has not undone yet (adoptions stack: each rollback
        undoes the latest one left)."""
        stack: list[LogEntry] = []
        for entry in self.entries():
            if entry.event == "adopt":
                stack.append(entry)
            elif entry.event == "rollback" and stack:
                stack.pop()
        return stack[-1] if stack else None

    def status(self, derived: dt.date, every_days: int, today: dt.date) -> ReviewStatus:
        """When the next review of an ICP derived on ``derived`` is due, and whether it is
        due ``today``."""
        last = self.last_review_or_adoption()
        day = last.day if last is not None else None
        due = due_on(derived, day, every_days)
        return ReviewStatus(
            every_days,
            due,
            today >= due,
            day,
            last.event if last is not None else None,
            max((today - due).days, 0),
        )


def derived_day(icp: dict[str, Any] | None) -> dt.date | None:
    """The derivation day of the ICP held in icp.yaml (its ``derived_at``), read without
    validating the ICP: None when there is none."""
    if not icp:
        return None
    value = icp.get("derived_at")
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            return None
    return None
