"""Start-up cost of the command line: CPU seconds of ``replenish --help`` and ``replenish recommend``.

Target (issue 18): ``replenish --help`` and ``replenish recommend`` on a saved
table policy in at most 0.5 s of CPU.  The machine is shared and noisy, so the
script also times the reference ``python -c "import numpy"`` in the same run,
interleaved with the commands, and reports the median of ``--repeats`` runs of
each and the ratios to the reference.

CPU time is the child's user + system time (``resource.getrusage(RUSAGE_CHILDREN)``
differences), not wall time, so other load on the machine matters less.

Usage::

    python benchmarks/startup.py [--repeats 7]

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cpu_seconds(cmd: list[str]) -> float:
    """CPU seconds (user + system) of one run of ``cmd``; fails loudly on a non-zero exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    py = sys.executable
    cli = [py, "-m", "replenish"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        subprocess.run([*cli, "solve", str(ROOT / "configs" / "bike_shop.toml"), "--method", "dp",
                        "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
        policy = out / "policy-dp.json"
        cases = {
            "import numpy (reference)": [py, "-c", "import numpy"],
            "python (bare)": [py, "-c", "pass"],
            "replenish --help": [*cli, "--help"],
            "replenish recommend (table policy)": [*cli, "recommend", "--policy", str(policy),
                                                   "--on-hand", "3", "--in-transit", "2"],
        }
        for cmd in cases.values():  # warm the file cache and numba's on-disk cache
            cpu_seconds(cmd)
        times: dict[str, list[float]] = {k: [] for k in cases}
        for _ in range(args.repeats):
            for name, cmd in cases.items():
                times[name].append(cpu_seconds(cmd))
    med = {k: statistics.median(v) for k, v in times.items()}
    ref = med["import numpy (reference)"]
    print(json.dumps({
        "benchmark": "startup",
        "repeats": args.repeats,
        "cpu_seconds_median": {k: round(v, 3) for k, v in med.items()},
        "cpu_seconds_all": {k: [round(x, 3) for x in v] for k, v in times.items()},
        "ratio_to_import_numpy": {k: round(v / ref, 2) for k, v in med.items()},
        "target_cpu_seconds": 0.5,
        "met": {k: med[k] <= 0.5 for k in ("replenish --help", "replenish recommend (table policy)")},
    }, indent=1))


if __name__ == "__main__":
    main()
