"""``icp queue list`` and ``icp queue retry``: the dead letters a person reads and sends
again, thin over the Workspace."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from icpkit.cli.main import app
from icpkit.serve.queue import Event, Queue
from icpkit.workspace import Workspace


def dead_letters(root: Path) -> Queue:
    queue = Queue.of(root)
    queue.put([Event("hubspot", f"e{n}", f"10{n}", "company.creation") for n in (1, 2, 3)])
    taken = queue.take(2, 60)
    queue.fail([t.id for t in taken], "CrmError: 403 MISSING_SCOPES", 1, 0)
    return queue


def test_queue_list_counts_each_state_and_shows_the_dead_with_their_error(
    tmp_path: Path,
) -> None:
    root = Workspace.init(tmp_path / "ws").root
    dead_letters(root)
    result = CliRunner().invoke(
        app, ["queue", "list", "--workspace", str(root)], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert "1 queued, 0 taken, 0 done, 2 dead" in result.output
    assert result.output.count("403 MISSING_SCOPES") == 2
    assert "101" in result.output and "102" in result.output and "103" not in result.output


def test_queue_retry_sends_the_dead_back_to_the_queue(tmp_path: Path) -> None:
    root = Workspace.init(tmp_path / "ws").root
    queue = dead_letters(root)
    first = queue.events("dead")[0]["id"]
    one = CliRunner().invoke(app, ["queue", "retry", str(first), "--workspace", str(root)])
    assert one.exit_code == 0, one.output
    assert "1 dead event queued again" in one.output
    rest = CliRunner().invoke(app, ["queue", "retry", "--workspace", str(root)])
    assert "1 dead event queued again" in rest.output
    assert queue.counts() == {"queued": 3, "taken": 0, "done": 0, "dead": 0}


def test_an_unknown_state_is_refused_in_words(tmp_path: Path) -> None:
    root = Workspace.init(tmp_path / "ws").root
    result = CliRunner().invoke(app, ["queue", "list", "--state", "lost", "--workspace", str(root)])
    assert result.exit_code != 0
    assert "no queue state 'lost'; one of queued, taken, done, dead" in result.output
    assert "Traceback" not in result.output
