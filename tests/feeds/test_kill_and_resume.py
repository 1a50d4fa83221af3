"""kill -9 in the middle of a load, run it again: no duplicate child, no lost row (issue 5).

This runs the real command in a subprocess against a database of its own (a SQLite file, or a
scratch PostgreSQL database when the suite runs on PostgreSQL), because a killed process must
not take the test's own connection and transaction with it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.feeds.conftest import COMMAND, run


def test_kill_9_mid_load_then_rerun_gives_every_row_once_and_no_duplicate_child(
    tmp_path: Path, scratch_database: tuple[str, Callable[[str], list[tuple[Any, ...]]]]
) -> None:
    url, query = scratch_database
    env = {**os.environ, "DATABASE_URL": url, "CONTACTPOINT_VAR_DIR": str(tmp_path)}
    feeds = tmp_path / "feeds"
    run(env, "migrate", "--no-input", "-v0")
    run(env, "generate_feeds", str(feeds), "--children", "1500", "--seed", "5", "-v0")
    run(env, "feeds", "register-synthetic", str(feeds))
    path = feeds / "nw-health.csv"
    data_lines = sum(1 for _ in path.open(encoding="utf-8")) - 1

    loader = subprocess.Popen(
        [
            COMMAND,
            "feeds",
            "load",
            str(path),
            "--source",
            "nw-health",
            "--batch-size",
            "40",
            "--quiet",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    done_before_kill = 0
    while time.monotonic() < deadline and loader.poll() is None:
        try:
            rows = query("SELECT lines_done FROM feeds_feedload")
        except Exception:  # the table is being written: try again
            rows = []
        if rows and rows[0][0] >= 400:
            done_before_kill = rows[0][0]
            os.kill(loader.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    loader.wait(timeout=30)
    assert loader.returncode == -signal.SIGKILL, "the load finished before it could be killed"
    ((status, lines_done),) = query("SELECT status, lines_done FROM feeds_feedload")
    assert status == "running" and done_before_kill <= lines_done < data_lines + 1

    output = run(env, "feeds", "load", str(path), "--source", "nw-health", "--quiet")
    assert "Resumed an interrupted load" in output

    (loads,) = query("SELECT count(*) FROM feeds_feedload")[0]
    assert loads == 1
    lines = query("SELECT line, count(*) FROM feeds_loadrow GROUP BY line HAVING count(*) > 1")
    assert lines == []  # no row reported twice
    (reported,) = query("SELECT count(*) FROM feeds_loadrow")[0]
    assert reported == data_lines  # no row lost
    (new,) = query("SELECT count(*) FROM feeds_loadrow WHERE outcome = 'new'")[0]
    (children,) = query("SELECT count(*) FROM index_child")[0]
    assert children == new  # no child without its report line, none twice
    (orphans,) = query(
        "SELECT count(*) FROM index_child c WHERE NOT EXISTS "
        "(SELECT 1 FROM feeds_sourcerecord s WHERE s.child_id = c.id)"
    )[0]
    assert orphans == 0
