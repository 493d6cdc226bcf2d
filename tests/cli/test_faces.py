"""The command line as a face: one judgement of what a failure means, and tables that
render what the library returns."""

from __future__ import annotations

import errno

from icpkit.analysis.segments import METRICS
from icpkit.cli.analyze import SEGMENT_WHY
from icpkit.cli.common import expected_failure
from icpkit.errors import IcpkitError, NothingToShow
from icpkit.operate.lookalike import NothingSeparates


def test_every_metric_of_a_segment_table_says_why_it_may_not_be_computable() -> None:
    assert tuple(SEGMENT_WHY) == METRICS


def test_an_icpkit_error_is_shown_as_it_is() -> None:
    error = IcpkitError("icp.yaml: unknown key 'scroing'", hint="did you mean 'scoring'?")
    assert expected_failure(error) is error


def test_a_file_that_cannot_be_opened_is_named() -> None:
    error = OSError(errno.EACCES, "Permission denied", "/data/deals.csv")
    known = expected_failure(error)
    assert known is not None and str(known) == "/data/deals.csv: Permission denied"


def test_a_full_disk_is_said_in_words() -> None:
    known = expected_failure(OSError(errno.ENOSPC, "No space left on device"))
    assert known is not None and "disk full" in str(known)


def test_a_built_in_error_from_inside_icpkit_is_a_bug_not_an_expected_failure() -> None:
    assert expected_failure(KeyError("tier")) is None
    assert expected_failure(OSError("socket closed")) is None


def test_nothing_to_rank_is_an_answer_shown_as_a_warning() -> None:
    assert issubclass(NothingSeparates, NothingToShow)
