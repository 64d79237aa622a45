"""docs/ci-example.yml: its gate step, run by bash against a stand-in `compress`, passes the exit code through and
appends summary.md to the job summary whether the budgets pass or fail."""

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from compressor.errors import EXIT_BAD_INPUT, EXIT_BUDGET, EXIT_OK

WORKFLOW = Path(__file__).parents[1] / "docs" / "ci-example.yml"


def gate_step():
    job = yaml.safe_load(WORKFLOW.read_text())["jobs"]["compress"]
    step = next(s for s in job["steps"] if s.get("id") == "compress")
    return job["env"], step["run"]


def fake_compress(bin_dir: Path, exit_code: int, writes_summary: bool):
    """Stands in for the real CLI: writes summary.md into --out (when a real run would) and exits with a code."""
    script = bin_dir / "compress"
    write = 'mkdir -p "$out" && echo "### FAKE SUMMARY" > "$out/summary.md"' if writes_summary else ":"
    script.write_text(f'#!/bin/bash\nwhile [ $# -gt 0 ]; do [ "$1" = --out ] && out="$2"; shift; done\n'
                      f"{write}\nexit {exit_code}\n")
    script.chmod(0o755)


@pytest.mark.parametrize("code, writes_summary, annotation", [
    (EXIT_OK, True, None), (EXIT_BUDGET, True, "Budget exceeded"), (EXIT_BAD_INPUT, False, "Bad input")])
def test_gate_passes_the_exit_code_through_and_fills_the_job_summary(tmp_path, code, writes_summary, annotation):
    env_vars, script = gate_step()
    assert "compress --recipe" in script
    fake_compress(tmp_path, code, writes_summary)
    summary, outputs = tmp_path / "step_summary.md", tmp_path / "github_output"
    env = {**os.environ, **env_vars, "PATH": f"{tmp_path}:{os.environ['PATH']}",
           "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs)}
    done = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == code
    assert f"exit_code={code}" in outputs.read_text()
    assert ("### FAKE SUMMARY" in summary.read_text()) if writes_summary else not summary.exists()
    if annotation:
        assert f"::error title={annotation}::" in done.stdout
