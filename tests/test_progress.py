"""Progress output: a bar only on a terminal, a few plain lines in logs; ``--quiet`` everywhere."""

from __future__ import annotations

import io
import sys

import pytest

from replenish.cli import build_parser, main
from replenish.core.progress import PlainProgress, is_terminal, progress_bar
from replenish.core.validate import MissingDependency, SpecError


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_plain_progress_prints_a_line_per_tenth_and_at_close():
    out = io.StringIO()
    bar = PlainProgress(total=1000, desc="qlearning (seed)", stream=out)
    for _ in range(1000):
        bar.update(1)
    bar.set_postfix(best=1.5)
    bar.close()
    bar.close()  # idempotent
    lines = out.getvalue().splitlines()
    assert len(lines) == 10  # 10%, .., 90% and the final line (100%)
    assert lines[0].startswith("qlearning (seed): 100/1,000 step (10%)")
    assert lines[-1].startswith("qlearning (seed): 1,000/1,000 step (100%)") and "best=1.5" in lines[-1]
    assert "\r" not in out.getvalue()
    # big jumps print once, a resumed run starts from its initial count
    out = io.StringIO()
    bar = PlainProgress(total=100, desc="fleet", unit="series", initial=50, stream=out)
    bar.update(45)
    bar.close()
    assert out.getvalue().splitlines()[0].startswith("fleet: 95/100 series (95%)")
    assert len(out.getvalue().splitlines()) == 2


def test_progress_bar_is_tqdm_only_on_a_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not is_terminal()
    assert isinstance(progress_bar(total=10, desc="x"), PlainProgress)
    monkeypatch.setattr(sys, "stderr", _Tty())
    assert is_terminal()
    bar = progress_bar(total=10, desc="x")
    assert not isinstance(bar, PlainProgress)
    bar.close()


def test_quiet_flag_on_every_command_with_progress():
    parser = build_parser()
    for cmd, extra in [("solve", ["c.toml", "--method", "dp"]), ("compare", ["c.toml"]),
                       ("fleet", ["c.toml"]), ("tune", ["c.toml"]), ("demo", [])]:
        for flag in ("-q", "--quiet", "--no-progress"):
            assert parser.parse_args([cmd, *extra, flag]).quiet, (cmd, flag)
        assert not parser.parse_args([cmd, *extra]).quiet


def test_help_texts(capsys):
    for cmd in ("demo", "fleet"):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--quick" in text and "min on 2 cores" in text and "as methods land" not in text
    assert "serial (one series after another" in text


def test_missing_optional_library_names_the_feature():
    err = MissingDependency("tune", "Optuna", "tune")
    assert isinstance(err, SpecError)
    assert str(err) == "tune: Optuna is not installed (pip install 'replenish[tune]')"
    assert "method = " not in str(err)


def test_tune_without_optuna_says_so(monkeypatch, capsys, tmp_path, bike_config):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna raises ImportError
    assert main(["tune", str(bike_config), "--method", "qlearning", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: tune: Optuna is not installed (pip install 'replenish[tune]')"


@pytest.mark.parametrize("quick", [False, True])
def test_demo_states_its_expected_time_first(monkeypatch, capsys, quick):
    import replenish.workflows.demo as demo

    def stop(**kw):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "run_demo", stop)
    assert main(["demo", *(["--quick"] if quick else [])]) == 130
    first = capsys.readouterr().err.splitlines()[0]
    assert "min on 2 cores" in first
    assert ("for a first look: replenish demo --quick" in first) is not quick  # the full demo suggests it
    assert main(["demo", "--quiet"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted"


def test_open_ended_progress_prints_every_so_often():
    """DP sweeps have no known total: a plain line at most every ``every_seconds``."""
    import io

    from replenish.core.progress import PlainProgress

    buf = io.StringIO()
    bar = PlainProgress(total=None, desc="dp", unit="sweep", stream=buf)
    bar.every_seconds = 0.0
    for _ in range(3):
        bar.set_postfix(gain="[1, 2]")
        bar.update(1)
    bar.close()
    lines = buf.getvalue().splitlines()
    assert len(lines) == 5 and lines[0].startswith("dp: 0 sweep")  # a line when it starts
    assert lines[3].startswith("dp: 3 sweep") and "gain=[1, 2]" in lines[3]
    quiet = io.StringIO()
    bar = PlainProgress(total=None, desc="dp", unit="sweep", stream=quiet)
    for _ in range(3):
        bar.update(1)
    assert len(quiet.getvalue().splitlines()) == 1  # within every_seconds: only the start line
