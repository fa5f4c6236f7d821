"""The `tracenode` console script as a user runs it, in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

TRACENODE = str(Path(sys.executable).parent / "tracenode")
REPORT_KEYS = {
    "units",
    "good",
    "rejected",
    "rejected_by_reason",
    "escapes",
    "false_rejects",
    "lost",
    "late",
    "latency_ms",
}


class TestSimCommand:
    """`tracenode sim` end to end."""

    @pytest.mark.slow
    def test_sim_writes_the_json_report(self, tmp_path: Path) -> None:
        """A short run exits 0 and writes exactly the documented keys, with figures that add up."""
        out = tmp_path / "r.json"
        done = subprocess.run(
            [
                TRACENODE,
                "sim",
                "--units",
                "40",
                "--rate",
                "1200",
                "--seed",
                "3",
                "--defects",
                "0.1",
                "--json",
                str(out),
                "--log",
                str(tmp_path / "sim.log"),
            ],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        report = json.loads(out.read_text())
        assert set(report) == REPORT_KEYS
        assert set(report["latency_ms"]) == {"p50", "p95", "p99", "max"}
        assert report["units"] == 40 == report["good"] + report["rejected"]
        assert (report["escapes"], report["lost"]) == (0, 0)
        assert "run report" in done.stdout
        log_lines = [
            json.loads(line)
            for line in (tmp_path / "sim.log").read_text().splitlines()
            if line.startswith("{")
        ]
        assert sum(1 for line in log_lines if line.get("event") == "unit") == 40

    def test_bad_arguments_are_refused(self) -> None:
        """A rate outside 1..3000 units/min is refused by name before anything starts."""
        done = subprocess.run([TRACENODE, "sim", "--rate", "0"], capture_output=True, text=True, check=False)
        assert done.returncode == 2
        assert "--rate" in done.stderr


class TestRunCommand:
    """`tracenode run` refuses a bad configuration without starting."""

    def test_bad_config_exits_2(self, tmp_path: Path) -> None:
        """A wrong value is logged with its field and the exit code is 2."""
        config = tmp_path / "node.toml"
        config.write_text("cycle_ms = 0\n")
        done = subprocess.run(
            [TRACENODE, "run", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2
        assert "cycle_ms" in done.stderr
