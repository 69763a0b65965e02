"""Print how long each DAG file in ``dags/`` takes to parse, next to a trivial DAG's time.

Airflow's DAG processor parses every file again and again (each time it changes, and every
``min_file_process_interval``), each parse in a child of a process that already has Airflow
loaded. This benchmark does the same: for every file, a fresh interpreter imports Airflow
first (not timed), then parses the file with ``DagBag`` (timed: "cold"), then parses it again
in the same process ("warm", what later parses of unchanged imports cost). The issue's budget
is well under 0.2 s per file; a DAG importing only ``airflow.sdk`` is the floor.

Note: the DAG processor's own ``last_parse_duration`` (UI/API) times its whole child process
(start, parse, serialise, report); it read 0.4-0.7 s for these files on a loaded 2-core machine,
of which the parse measured here is the small part.

Usage: .venv/bin/python bench/dagparse.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DAGS = REPO / "dags"

TRIVIAL = '''
from datetime import datetime, timezone
from airflow.sdk import dag, task

@dag(schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc), catchup=False,
     tags=["bench"])
def trivial_baseline():
    @task
    def noop() -> None:
        pass
    noop()

trivial_baseline()
'''

PROBE = r'''
import json, sys, time
import airflow.sdk  # the DAG processor has Airflow loaded before it parses a file
from airflow.dag_processing.dagbag import DagBag
path = sys.argv[1]
t0 = time.perf_counter()
bag = DagBag(dag_folder=path, safe_mode=False)
cold = time.perf_counter() - t0
t0 = time.perf_counter()
DagBag(dag_folder=path, safe_mode=False)
warm = time.perf_counter() - t0
print(json.dumps({"cold": cold, "warm": warm, "dags": len(bag.dags),
                  "tasks": sum(len(d.tasks) for d in bag.dags.values()),
                  "errors": {str(k): str(v)[:200] for k, v in bag.import_errors.items()}}))
'''


def measure(path: Path, env: dict[str, str], repeat: int) -> dict:
    runs = []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", PROBE, str(path)], env=env,
                             capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {
        "cold": statistics.median(r["cold"] for r in runs),
        "warm": statistics.median(r["warm"] for r in runs),
        "dags": runs[0]["dags"],
        "tasks": runs[0]["tasks"],
        "errors": runs[0]["errors"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per file (median shown)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dagparse-") as tmp:
        env = dict(os.environ)
        env.update({
            "AIRFLOW_HOME": tmp,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp}/airflow.db",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "ERROR",
            "MONITOR_HOME": env.get("MONITOR_HOME", str(Path(tmp) / "monitor")),
        })
        trivial = Path(tmp) / "trivial_baseline.py"
        trivial.write_text(TRIVIAL, encoding="utf-8")
        files = [trivial, *sorted(DAGS.glob("*.py"))]
        print(f"{'file':<28} {'cold ms':>8} {'warm ms':>8} {'dags':>5} {'tasks':>6}  "
              f"(median of {args.repeat}; budget 200 ms)")
        worst = 0.0
        for path in files:
            m = measure(path, env, args.repeat)
            name = "(baseline) " + path.name if path == trivial else path.name
            flag = "  OVER BUDGET" if m["cold"] > 0.2 else ""
            if m["errors"]:
                flag += f"  IMPORT ERROR {m['errors']}"
            print(f"{name:<28} {m['cold'] * 1000:>8.1f} {m['warm'] * 1000:>8.1f} "
                  f"{m['dags']:>5} {m['tasks']:>6}{flag}")
            if path != trivial:
                worst = max(worst, m["cold"])
        print(f"slowest monitor DAG file: {worst * 1000:.1f} ms cold")


if __name__ == "__main__":
    main()
