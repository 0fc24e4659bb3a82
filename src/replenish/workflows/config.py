"""TOML configuration files.

A config holds the problem (``name``, ``[problem]``, ``[demand]``) and optional
tables for methods and tools (``[qlearning]``, ``[dqn]``, ``[simulation]`` ...).
Unknown tables or keys are errors naming the key and the value.
"""

from __future__ import annotations

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
SECTIONS = set(METHODS) | {"classic", "simulation", "report", "fleet", "tune", "compare"}


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
    """

    problem: Problem
    sections: dict[str, dict[str, Any]] = field(default_factory=dict)
    path: Path | None = None
    history: Any = None

    def section(self, name: str) -> dict[str, Any]:
        """The ``[name]`` table (empty if absent)."""
        return dict(self.sections.get(name, {}))


def config_from_dict(data: dict[str, Any], *, path: Path | None = None) -> Config:
    """Validate a config given as nested dicts (the parsed TOML)."""
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
        problem = Problem.from_dict(data)
    return Config(problem=problem, sections={k: v for k, v in data.items() if k in SECTIONS},
                  path=path, history=history)


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; unreadable or invalid files raise a one-line :class:`SpecError`."""
    path = Path(path)
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise SpecError("config", str(path), "no such file") from None
    except OSError as exc:
        raise SpecError("config", str(path), f"cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise SpecError("config", str(path), f"invalid TOML: {exc}") from None
    except UnicodeDecodeError as exc:
        raise SpecError("config", str(path), f"not UTF-8 text (byte {exc.start}: "
                                             f"{exc.object[exc.start:exc.start + 1]!r})") from None


def load_config(path: str | Path) -> Config:
    """Read and validate a TOML config file."""
    path = Path(path)
    return config_from_dict(read_toml(path), path=path)


def bundled_config(name: str) -> Path:
    """Path of a config shipped in ``replenish/data`` (e.g. ``"bike_shop.toml"``, ``"bakery.toml"``)."""
    return Path(str(resources.files("replenish") / "data" / name))
