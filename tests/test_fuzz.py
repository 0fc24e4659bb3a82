"""Fuzzing the input paths: mutated configs and sales files through every command.

A seeded generator (``numpy.random.Generator``) mutates the bike-shop config
(values of every key, whole tables, the raw bytes) and a small sales CSV (cells,
rows, delimiters, encodings, compression suffixes).  Each case runs in-process
through :func:`replenish.cli.main` under a per-case time limit (``SIGALRM``) and
a resident-set limit (a thread samples ``/proc/self/statm``; past the limit it
interrupts the case) and is classified:

* ``ok``: exit code 0;
* ``clean``: exit code 2 with exactly one stderr line starting ``error: ``;
* anything else fails the test: an exception escaping ``main`` (a traceback), a
  case past the time limit (a hang), a resident set past :data:`RSS_LIMIT` (a
  blow-up), another exit code or a multi-line error.  The failure message prints
  the reproducer (the file's text and the command).

Config cases rotate over ``solve`` (order-up-to, dp, qlearning), ``evaluate`` (a
saved bike-shop policy) and ``explain``; sales cases over ``solve``, ``compare``
and ``recommend`` (a saved forecasting policy reading the mutated file).  The
fast tier runs 40 config and 21 sales cases; the slow tier 500 and 210.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import signal
import threading
import tomllib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from helpers import history_config
from replenish.cli import main

ROOT = Path(__file__).resolve().parents[1]
BIKE_TEXT = (ROOT / "configs" / "bike_shop.toml").read_text()
BIKE = tomllib.loads(BIKE_TEXT)
#: seconds a case may take (the first run of a method compiles its kernels; warmed up first)
TIME_LIMIT = 30
#: resident set a case may reach (bytes)
RSS_LIMIT = 2 * 2**30
PAGE = os.sysconf("SC_PAGE_SIZE")


class Hang(Exception):
    """Raised by the alarm when a case runs past :data:`TIME_LIMIT`."""


class BlowUp(Exception):
    """Raised by the memory watch when a case's resident set passes :data:`RSS_LIMIT`."""


def rss() -> int:
    """Resident set of this process (bytes)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


class MemoryWatch:
    """While active, a thread samples the resident set every 20 ms; when it has grown by
    more than ``limit`` since the start (what the case added to the test process), it
    sends SIGUSR1 to this process, whose handler raises :class:`BlowUp` in the case.
    ``peak``: the largest growth seen."""

    def __init__(self, limit: int) -> None:
        self.limit, self.peak, self.start = limit, 0, 0
        self._stop = threading.Event()

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            grown = rss() - self.start
            self.peak = max(self.peak, grown)
            if grown > self.limit:
                os.kill(os.getpid(), signal.SIGUSR1)
                return

    def __enter__(self) -> MemoryWatch:
        self.start, self.peak = rss(), 0
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def run_case(argv: list[str], limit: int = TIME_LIMIT, rss_limit: int = RSS_LIMIT) -> tuple[str, str]:
    """Run ``replenish ARGV`` in-process; returns (class, detail)."""
    out, err = io.StringIO(), io.StringIO()

    def alarm(signum: int, frame: Any) -> None:
        raise Hang()

    def memory(signum: int, frame: Any) -> None:
        raise BlowUp()

    old = signal.signal(signal.SIGALRM, alarm)
    old_usr1 = signal.signal(signal.SIGUSR1, memory)
    signal.alarm(limit)
    watch = MemoryWatch(rss_limit)
    try:
        with watch, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(argv)
    except Hang:
        return "hang", f"past {limit} s"
    except BlowUp:
        return "blow-up", f"resident set grew past {rss_limit / 2**30:g} GiB"
    except BaseException as exc:
        import traceback

        if isinstance(exc, MemoryError) or watch.peak > rss_limit:
            return "blow-up", "".join(traceback.format_exception(exc))[-3000:]
        return "traceback", "".join(traceback.format_exception(exc))[-3000:]
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
        signal.signal(signal.SIGUSR1, old_usr1)
    if watch.peak > rss_limit:
        return "blow-up", f"resident set grew by {watch.peak / 2**30:.2f} GiB"
    text = err.getvalue()
    lines = [ln for ln in text.splitlines() if not ln.startswith(("warning", "Warning")) and
             "UserWarning" not in ln and "warnings.warn" not in ln]
    if rc == 0:
        return "ok", ""
    if rc == 2 and len(lines) == 1 and lines[0].startswith("error: "):
        return "clean", lines[0]
    return "bad-exit", f"exit {rc}; stderr: {text[-2000:]!r}"


# ------------------------------------------------------------------ TOML writing
def toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if v != v:
            return "nan"
        if v in (float("inf"), float("-inf")):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f'"{k}" = {toml_value(x)}' for k, x in v.items()) + "}"
    raise TypeError(v)


def toml_text(data: dict[str, Any]) -> str:
    lines = [f"{k} = {toml_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for k, v in data.items():
        if isinstance(v, dict):
            lines.append(f'["{k}"]')
            lines += [f'"{kk}" = {toml_value(vv)}' for kk, vv in v.items()]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ value pools
def random_value(rng: np.random.Generator) -> Any:
    pool: list[Callable[[], Any]] = [
        lambda: int(rng.integers(-5, 60)),
        lambda: int(rng.choice([0, 1, 2, 10, 52, 53, 1000, 10**6, 10**9, 2**31, 2**62, 2**63 - 1,
                                -(2**63)])),
        lambda: 10 ** int(rng.integers(19, 400)),
        lambda: float(rng.choice([0.0, 0.5, 0.9, 0.999999, 1.0, 1e-300, 1e12, 1e308, -1e308,
                                  float("nan"), float("inf"), float("-inf")])),
        lambda: float(rng.normal(0, 100)),
        lambda: str(rng.choice(["", "lost", "backorder", "poisson", "negative_binomial",
                                "empirical", "weekday_poisson", "x" * 200, "é\u0000"])),
        lambda: bool(rng.integers(2)),
        lambda: [float(x) for x in rng.dirichlet(np.ones(int(rng.integers(1, 12))))],
        lambda: [float(x) for x in rng.uniform(-1, 20, size=int(rng.integers(0, 9)))],
        lambda: nest(int(rng.integers(1, 40))),
        lambda: {"mean": 4},
    ]
    return pool[int(rng.integers(len(pool)))]()


def nest(depth: int) -> Any:
    out: Any = 1
    for _ in range(depth):
        out = [out]
    return out


PROBLEM_KEYS = ["lead_time", "capacity", "max_order", "order_multiple", "excess_demand",
                "holding_cost", "stockout_cost", "fixed_order_cost", "unit_cost", "price",
                "discount", "position_bound", "backlog_bound", "colour"]
DEMANDS = [
    {"kind": "poisson", "mean": 4},
    {"kind": "negative_binomial", "mean": 4, "variance": 9},
    {"kind": "empirical", "probabilities": [0.1, 0.2, 0.3, 0.4]},
    {"kind": "weekday_poisson", "means": [3, 3, 3, 3, 4, 5, 9]},
    {"kind": "weekday_empirical", "pmfs": [[0.5, 0.5]] * 7},
]


def mutate_config(rng: np.random.Generator) -> bytes:
    """One mutated bike-shop config (as the bytes of a file)."""
    data = copy.deepcopy(BIKE)
    how = int(rng.integers(10))
    if how <= 3:  # one to three values of [problem]
        for _ in range(int(rng.integers(1, 4))):
            data["problem"][str(rng.choice(PROBLEM_KEYS))] = random_value(rng)
    elif how == 4:  # capacity / lead time / bounds at their extremes
        key = str(rng.choice(["capacity", "max_order", "lead_time", "position_bound"]))
        data["problem"][key] = int(rng.choice([10**6, 10**7, 10**12, 30, 40, 50, 52, 2**62]))
        if key == "position_bound":
            data["problem"].pop("capacity")
    elif how == 5:  # another demand kind, maybe with a mutated field
        d = copy.deepcopy(DEMANDS[int(rng.integers(len(DEMANDS)))])
        if rng.random() < 0.7:
            d[str(rng.choice([k for k in d if k != "kind"] + ["kind", "extra"]))] = random_value(rng)
        data["demand"] = d
    elif how == 6:  # a method table with junk
        section = str(rng.choice(["dp", "sS", "qlearning", "dqn", "compare", "nonsense"]))
        data[section] = {str(rng.choice(["tol", "max_states", "lr", "steps", "hidden", "x"])):
                         random_value(rng)}
    elif how == 7:  # delete something
        if rng.random() < 0.5:
            data["problem"].pop(str(rng.choice(list(data["problem"]))), None)
        else:
            data.pop(str(rng.choice(["problem", "demand", "name"])), None)
    text = toml_text(data).encode()
    if how == 8:  # raw bytes: flip, truncate, insert junk
        b = bytearray(text)
        for _ in range(int(rng.integers(1, 6))):
            i = int(rng.integers(len(b)))
            b[i] = int(rng.integers(256))
        if rng.random() < 0.3:
            b = b[: int(rng.integers(len(b)))]
        return bytes(b)
    if how == 9:  # whole-file oddities
        kind = int(rng.integers(5))
        if kind == 0:
            return b"a = " + b"[" * 3000 + b"]" * 3000 + b"\n"
        if kind == 1:
            return text.replace(b"mean = 4", b"mean = 4" + b"0" * int(rng.integers(10, 6000)))
        if kind == 2:
            return text.decode().encode("utf-16")
        if kind == 3:
            return "name = 'caf\u00e9'\n".encode("latin-1") + text
        return bytes(rng.integers(0, 256, size=int(rng.integers(1, 400)), dtype=np.uint8))
    return text


# ------------------------------------------------------------------ sales files
SALES_DAYS = 120


def sales_frame(rng: np.random.Generator) -> list[list[str]]:
    import datetime as dt

    start = dt.date(2018, 1, 1)
    base = [3, 3, 3, 3, 4, 5, 9]
    return [[(start + dt.timedelta(days=i)).isoformat(), str(int(rng.poisson(base[i % 7])))]
            for i in range(SALES_DAYS)]


SALES_CONFIG = history_config("{file}", ('"2018-01-01"', '"2018-03-04"'), ('"2018-03-05"', '"2018-04-30"'),
                              name="sales", problem="discount = 0.9\n")

EXTREMES = ["1e12", str(2**62), "1e308", str(-(2**63)), "nan", "", "abc", "1,5", "-1", "2.5",
            "inf", str(2**64), "0x10", "1e6", "999999"]


def mutate_sales(rng: np.random.Generator) -> tuple[str, bytes]:
    """(file name, bytes) of one mutated sales file."""
    rows = sales_frame(rng)
    name, sep, header = "sales.csv", ",", ["date", "demand"]
    for _ in range(int(rng.integers(1, 3))):
        how = int(rng.integers(9))
        i = int(rng.integers(len(rows)))
        if how <= 2:
            rows[i][1] = str(rng.choice(EXTREMES))
        elif how == 3:
            rows[i][0] = str(rng.choice(["2018-13-45", "", "yesterday", "2018-01-01", "1e308"]))
        elif how == 4:
            rows.insert(i, list(rows[i]))  # duplicated date
        elif how == 5:
            del rows[i]  # a gap (when inside the windows)
        elif how == 6:
            sep = str(rng.choice([";", "\t", "|"]))
        elif how == 7:
            header = [str(rng.choice(["date", "Date", "day", "\ufeffdate"])),
                      str(rng.choice(["demand", "sales", "demand "]))]
        else:
            name = str(rng.choice(["sales.csv.gz", "sales.parquet", "sales.csv.zip", "sales.txt"]))
    text = "\n".join(sep.join(r) for r in [header, *rows]) + "\n"
    if rng.random() < 0.15:
        text = text.replace("\n", "\r\n")
    data = text.encode()
    r = rng.random()
    if r < 0.05:
        data = b"\xef\xbb\xbf" + data
    elif r < 0.1:
        data = text.encode("utf-16")
    elif r < 0.15:
        data = data[: int(rng.integers(len(data)))]
    elif r < 0.18:
        data = bytes(rng.integers(0, 256, size=300, dtype=np.uint8))
    return name, data


# ------------------------------------------------------------------ the runs
def _report(counts: Counter, failures: list[str]) -> str:
    return f"counts {dict(counts)}; " + "\n\n".join(failures[:5])


def _table(counts: Counter) -> str:
    """Counts per path and class, one line per path."""
    paths = sorted({p for p, _ in counts})
    classes = ["ok", "clean", "traceback", "hang", "blow-up", "bad-exit"]
    return "\n".join(f"  {p:<24} " + " ".join(f"{c}={counts[p, c]}" for c in classes) for p in paths)


#: the command paths of the config cases (rotating): name → argv after the config
CONFIG_PATHS: list[tuple[str, list[str]]] = [
    ("solve order-up-to", ["--method", "order-up-to", "--json"]),
    ("solve dp", ["--method", "dp", "--json"]),
    ("solve qlearning", ["--method", "qlearning", "--steps", "20000", "--json"]),
    ("evaluate", ["--policy", "{policy}", "--json"]),
    ("explain", ["--state", "3,2", "--days", "3", "--json"]),
]


def _classify(counts: Counter, failures: list[str], path: str, argv: list[str], what: str,
              content: bytes, seed: list[int]) -> None:
    cls, detail = run_case(argv)
    counts[path, cls] += 1
    if cls not in ("ok", "clean"):
        failures.append(f"{path} case (seed {seed}): {cls}\n$ replenish {' '.join(argv)}\n"
                        f"--- {what} ---\n{content[:3000]!r}\n--- detail ---\n{detail}")


def fuzz_configs(tmp_path: Path, n: int, seed: int) -> Counter:
    counts: Counter = Counter()
    failures: list[str] = []
    cfg = tmp_path / "bike.toml"
    cfg.write_text(BIKE_TEXT)
    policy = tmp_path / "pol"
    # warm-up (compiles the kernels) and the saved policy evaluate and explain read
    for warm in (["--method", "order-up-to", "--out", str(policy)], ["--method", "dp"],
                 ["--method", "qlearning", "--steps", "20000"]):
        assert run_case(["solve", str(cfg), *warm], limit=600)[0] == "ok"
    saved = str(policy / "policy-order-up-to.json")
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        content = mutate_config(rng)
        cfg.write_bytes(content)
        path, rest = CONFIG_PATHS[i % len(CONFIG_PATHS)]
        argv = [*path.split()[:1], str(cfg), *[a.format(policy=saved) for a in rest]]
        if path == "explain" and i % 2:
            argv += ["--policy", saved]
        _classify(counts, failures, path, argv, "config", content, [seed, i])
    print(f"config fuzz ({n} cases):\n{_table(counts)}")
    assert not failures, _report(counts, failures)
    return counts


FORECAST_CONFIG = history_config("sales.csv", ('"2018-01-01"', '"2018-03-04"'),
                                 ('"2018-03-05"', '"2018-04-30"'), name="sales",
                                 extra="[features]\nlevel = true\n")


def forecast_policy(folder: Path) -> str:
    """A saved forecast-base-stock policy on a clean sales file (recommend reads the mutated
    files with it)."""
    folder.mkdir()
    rows = sales_frame(np.random.default_rng(0))
    (folder / "sales.csv").write_text("\n".join(",".join(r) for r in [["date", "demand"], *rows]) + "\n")
    (folder / "c.toml").write_text(FORECAST_CONFIG)
    argv = ["compare", str(folder / "c.toml"), "--methods", "forecast-base-stock", "--report",
            str(folder / "r"), "-q"]
    assert run_case(argv, limit=600)[0] == "ok"
    return str(folder / "r" / "policy-forecast-base-stock.json")


def fuzz_sales(tmp_path: Path, n: int, seed: int) -> Counter:
    counts: Counter = Counter()
    failures: list[str] = []
    fbs = forecast_policy(tmp_path / "fbs")
    for i in range(n):
        rng = np.random.default_rng([seed, 10_000 + i])
        folder = tmp_path / f"s{i}"
        folder.mkdir()
        name, content = mutate_sales(rng)
        (folder / name).write_bytes(content)
        cfg = folder / "c.toml"
        cfg.write_text(SALES_CONFIG.format(file=name))
        path = ("solve order-up-to", "compare", "recommend")[i % 3]
        if path == "solve order-up-to":
            argv = ["solve", str(cfg), "--method", "order-up-to", "--json"]
        elif path == "compare":
            argv = ["compare", str(cfg), "--methods", "sS,order-up-to", "--json"]
        else:
            argv = ["recommend", "--policy", fbs, "--on-hand", "3", "--in-transit", "0", "--date",
                    "2018-04-20", "--data", str(folder / name), "--json"]
        _classify(counts, failures, path, argv, name, content, [seed, 10_000 + i])
    print(f"sales fuzz ({n} cases):\n{_table(counts)}")
    assert not failures, _report(counts, failures)
    return counts


def _by_class(counts: Counter) -> Counter:
    out: Counter = Counter()
    for (_, cls), k in counts.items():
        out[cls] += k
    return out


def test_fuzz_configs_fast(tmp_path):
    counts = fuzz_configs(tmp_path, 40, seed=1)
    total = _by_class(counts)
    assert total["ok"] > 0 and total["clean"] > 0  # both classes are reached
    assert {p for p, _ in counts} == {p for p, _ in CONFIG_PATHS}  # every path is reached


def test_fuzz_sales_fast(tmp_path):
    counts = fuzz_sales(tmp_path, 21, seed=1)
    assert _by_class(counts)["clean"] > 0
    assert {p for p, _ in counts} == {"solve order-up-to", "compare", "recommend"}


@pytest.mark.slow
def test_fuzz_configs_slow(tmp_path):
    fuzz_configs(tmp_path, 500, seed=2)


@pytest.mark.slow
def test_fuzz_sales_slow(tmp_path):
    fuzz_sales(tmp_path, 210, seed=2)


def test_the_classifier_sees_tracebacks_and_hangs(monkeypatch):
    """The harness itself can fail: an escaping exception and a hang are caught."""
    import replenish.cli as cli

    def boom(argv: list[str]) -> int:
        raise RuntimeError("boom")

    def slow(argv: list[str]) -> int:
        import time

        time.sleep(5)
        return 0

    monkeypatch.setattr(cli, "main", boom)
    monkeypatch.setitem(globals(), "main", boom)
    assert run_case(["x"])[0] == "traceback"
    monkeypatch.setitem(globals(), "main", slow)
    assert run_case(["x"], limit=1)[0] == "hang"

    def greedy(argv: list[str]) -> int:
        import mmap
        import time

        size = 64 * 2**20  # fresh pages (a malloc could reuse resident free heap), all touched
        block = mmap.mmap(-1, size)
        for i in range(0, size, PAGE):
            block[i] = 1
        time.sleep(0.5)
        block.close()
        return 0

    monkeypatch.setitem(globals(), "main", greedy)
    assert run_case(["x"], rss_limit=16 * 2**20)[0] == "blow-up"
    assert run_case(["x"])[0] == "ok"
