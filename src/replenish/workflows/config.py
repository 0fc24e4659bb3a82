"""TOML configuration files.

A config holds the problem (``name``, ``[problem]``, ``[demand]``) and optional
tables for methods and tools (``[qlearning]``, ``[dqn]``, ``[simulation]`` ...).
Unknown tables or keys are errors naming the key and the value.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from replenish.core.validate import SpecError
from replenish.model.spec import Problem
from replenish.solvers.catalogue import METHODS

#: Optional top-level tables: one per method of the catalogue (each method validates
#: its own table's keys) and the workflows' tables.
SECTIONS = set(METHODS) | {"classic", "simulation", "report", "fleet", "tune", "compare", "features"}


@dataclass(frozen=True)
class Config:
    """A parsed configuration file.

    Attributes:
        problem: the validated problem.
        sections: the optional tables, e.g. ``sections["dqn"]``.
        path: the file it came from (``None`` when built in memory).
        history: for ``[demand] kind = "history"``, the loaded
            :class:`~replenish.history.HistoricalDemand` (train/test windows);
            the problem's demand is then the weekday model fitted on the
            training window.  ``None`` otherwise.
        context: with a ``[features]`` table, the
            :class:`~replenish.solvers.contextual.ContextData` of the series (the
            whole series in the file with its feature columns; fitting sees only
            the training window).  ``None`` otherwise.
        raw: the parsed TOML (rolling-origin comparisons refit per origin).
    """

    problem: Problem
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path | None = None
    history: Any = None
    context: Any = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    def section(self, name: str) -> dict[str, Any]:
        """The ``[name]`` table (empty if absent)."""
        return dict(self.sections.get(name, {}))


#: Largest config file read (bytes): a hand-written config is a few KB.
MAX_CONFIG_BYTES = 1_000_000
#: Deepest nesting of tables and arrays accepted in a config.
MAX_CONFIG_DEPTH = 16
#: Integers in a config must fit a signed 64-bit integer.
_INT64 = 2**63


def _short(value: object) -> object:
    """``value`` for an error message: a huge integer is shown by its digit count."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**30:
        return f"<integer with {len(str(abs(value)))} digits>"
    return value


def check_values(data: Any, where: str = "", depth: int = 0, *, finite: bool = True) -> None:
    """Refuse nesting deeper than :data:`MAX_CONFIG_DEPTH`, integers outside the signed 64-bit
    range and NaN/infinite floats (when ``finite``) in a parsed config (one-line :class:`SpecError`).

    ``[problem]`` and ``[demand]`` check their own numbers (with messages naming the whole
    field); the method tables' options are only type-checked, so NaN is refused here."""
    if depth > MAX_CONFIG_DEPTH:
        raise SpecError(where or "config", "[...]",
                        f"nested deeper than {MAX_CONFIG_DEPTH} tables/arrays")
    if isinstance(data, dict):
        for key, value in data.items():
            fin = finite and not (depth == 0 and key in ("problem", "demand"))
            check_values(value, f"{where}.{key}" if where else str(key), depth + 1, finite=fin)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            check_values(value, f"{where}[{i}]", depth + 1, finite=finite)
    elif isinstance(data, bool):
        return
    elif isinstance(data, int):
        if finite and not -_INT64 <= data < _INT64:
            raise SpecError(where, _short(data), "integer out of range (must fit 64 bits)")
    elif finite and isinstance(data, float) and not math.isfinite(data):
        raise SpecError(where, data, "must be a finite number")


def config_from_dict(data: dict[str, Any], *, path: Path | None = None) -> Config:
    """Validate a config given as nested dicts (the parsed TOML)."""
    check_values(data)
    for key, value in data.items():
        if key not in {"name", "problem", "demand"} | SECTIONS:
            raise SpecError(key, value if not isinstance(value, dict) else "{...}",
                            "unknown top-level key or table")
        if key in SECTIONS and not isinstance(value, dict):
            raise SpecError(key, value, "must be a table")
    history = None
    demand = data.get("demand")
    if isinstance(demand, dict) and demand.get("kind") == "history":
        # sales history: fit the weekday model on the training window (relative files
        # resolve against the config file's folder)
        from replenish.workflows.history import problem_from_history

        prob = data.get("problem", {})
        if not isinstance(prob, dict):
            raise SpecError("problem", prob, "must be a table")
        problem, history = problem_from_history(
            demand, problem=prob, name=data.get("name"),
            base_dir=path.parent if path is not None else None)
    else:
        if "features" in data:
            raise SpecError("features", "{...}", "needs a sales history: [demand] kind = \"history\"")
        problem = Problem.from_dict(data)
    context = None
    if "features" in data:
        from replenish.workflows.history import read_context

        assert isinstance(demand, dict)
        context = read_context(demand, data["features"], history,
                               base_dir=path.parent if path is not None else None)
    return Config(problem=problem, sections={k: v for k, v in data.items() if k in SECTIONS},
                  path=path, history=history, context=context, raw=data)


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; unreadable or invalid files raise a one-line :class:`SpecError`."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise SpecError("config", str(path), "no such file") from None
    except OSError as exc:
        raise SpecError("config", str(path), f"cannot read ({exc.strerror})") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise SpecError("config", str(path), f"larger than {MAX_CONFIG_BYTES} bytes: not a config")
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise SpecError("config", str(path), f"not UTF-8 text (byte {exc.start}: "
                                             f"{exc.object[exc.start:exc.start + 1]!r})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError("config", str(path), f"invalid TOML: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise SpecError("config", str(path), "invalid TOML: nested too deeply") from None
    except ValueError as exc:  # e.g. integers longer than Python's 4300-digit conversion limit
        reason = str(exc).splitlines()[0].split(":")[0].split(";")[0]
        raise SpecError("config", str(path), f"invalid TOML: {reason}") from None


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML config file."""
    path = Path(path)
    return config_from_dict(read_toml(path), path=path)


def bundled_config(name: str) -> Path:
    """Path of a config shipped in ``replenish/data`` (e.g. ``"bike_shop.toml"``, ``"bakery.toml"``)."""
    return Path(str(resources.files("replenish") / "data" / name))
