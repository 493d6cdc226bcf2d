"""The review log (``.icp/reviews.json``): events kept in order, adoptions undone as a stack,
the next review due after the later of the derivation and the last review or adoption, and
a log that is damaged or newer refused with its path."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from icpkit.icp.review_log import (
    LogEntry,
    ReviewLog,
    ReviewLogError,
    changelog_entry,
    derived_day,
    due_on,
)
from icpkit.output.versions import NewerSchemaError


def _entry(event: str, day: str, version: int, previous: int | None = None) -> LogEntry:
    return LogEntry(event, f"{day}T10:00:00+00:00", "ana", version, previous=previous)  # type: ignore[arg-type]


def test_an_empty_workspace_has_no_events_and_events_read_back_in_order(tmp_path: Path) -> None:
    log = ReviewLog(tmp_path)
    assert log.entries() == [] and log.last_review_or_adoption() is None
    first, second = _entry("review", "2026-01-05", 1), _entry("adopt", "2026-01-06", 2, 1)
    log.append(first)
    log.append(second)
    assert ReviewLog(tmp_path).entries() == [first, second]
    assert json.loads(log.path.read_text(encoding="utf-8"))["schema_version"] == 1


def test_rollbacks_undo_adoptions_latest_first(tmp_path: Path) -> None:
    log = ReviewLog(tmp_path)
    log.append(_entry("adopt", "2026-01-01", 2, 1))
    log.append(_entry("adopt", "2026-02-01", 3, 2))
    assert log.adoption_to_undo() == _entry("adopt", "2026-02-01", 3, 2)
    log.append(_entry("rollback", "2026-02-02", 2, 3))
    assert log.adoption_to_undo() == _entry("adopt", "2026-01-01", 2, 1)
    log.append(_entry("rollback", "2026-02-03", 1, 2))
    assert log.adoption_to_undo() is None


def test_the_next_review_is_due_every_days_after_the_later_of_derivation_and_last_event(
    tmp_path: Path,
) -> None:
    derived = dt.date(2026, 1, 10)
    assert due_on(derived, None, 90) == dt.date(2026, 4, 10)
    assert due_on(derived, dt.date(2025, 12, 1), 90) == dt.date(2026, 4, 10)  # older event
    log = ReviewLog(tmp_path)
    before = log.status(derived, 90, dt.date(2026, 4, 9))
    assert not before.due and before.last is None and before.due_on == dt.date(2026, 4, 10)
    on_the_day = log.status(derived, 90, dt.date(2026, 4, 10))
    assert on_the_day.due and on_the_day.days_overdue == 0
    log.append(_entry("review", "2026-04-12", 1))
    after = log.status(derived, 90, dt.date(2026, 5, 1))
    assert not after.due and after.due_on == dt.date(2026, 7, 11)
    assert (after.last, after.last_event) == (dt.date(2026, 4, 12), "review")
    assert log.status(derived, 90, dt.date(2026, 7, 20)).days_overdue == 9


def test_a_log_of_a_newer_icpkit_is_refused_not_misread(tmp_path: Path) -> None:
    log = ReviewLog(tmp_path)
    log.path.parent.mkdir(parents=True)
    log.path.write_text(json.dumps({"schema_version": 2, "events": []}), encoding="utf-8")
    with pytest.raises(NewerSchemaError, match=r"reviews\.json: written by a newer icpkit"):
        log.entries()


def test_a_damaged_log_is_an_error_naming_the_file(tmp_path: Path) -> None:
    log = ReviewLog(tmp_path)
    log.path.parent.mkdir(parents=True)
    log.path.write_text('{"schema_version": 1, "events": [{"event": "adopt"', encoding="utf-8")
    with pytest.raises(ReviewLogError, match=r"reviews\.json: not a review log icpkit wrote"):
        log.entries()


def test_the_derivation_day_is_read_from_the_icp_text_without_validating_it() -> None:
    assert derived_day({"derived_at": "2026-11-23T09:30:00Z"}) == dt.date(2026, 11, 23)
    assert derived_day({"derived_at": dt.datetime(2026, 1, 2, 3, 4)}) == dt.date(2026, 1, 2)
    assert derived_day({"derived_at": "yesterday"}) is None
    assert derived_day(None) is None


def test_an_adoption_enters_the_changelog_with_who_and_why() -> None:
    entry = LogEntry("adopt", "2026-03-01T08:00:00+00:00", "ana", 5, previous=3, why="Q1 review")
    assert changelog_entry(entry) == "## Adopted v5 — 2026-03-01\n\nBy ana (was v3).\n\nQ1 review\n"
    back = LogEntry("rollback", "2026-03-02T08:00:00+00:00", "bo", 3, previous=5)
    assert changelog_entry(back).startswith("## Rolled back to v3 — 2026-03-02\n\nBy bo (was v5).")
