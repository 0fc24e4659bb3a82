"""Atomic file writes and JSON conversion: the one place every output goes through.

Every result file replenish writes (policies, result JSON, reports, checkpoints,
fleet tables) is written to a temporary file in the target folder and renamed
over the target (:func:`os.replace`), so a failed or killed run never leaves a
truncated file or destroys an earlier output.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write", "dumps_json", "json_default", "umask_mode"]


def umask_mode(mode: int = 0o666) -> int:
    """``mode`` with the process umask applied (what ``open()`` would create)."""
    mask = os.umask(0)
    os.umask(mask)
    return mode & ~mask


def atomic_write(path: str | Path, data: str | bytes | Callable[[IO[bytes]], Any], *,
                 mode: int | None = None) -> Path:
    """Write ``data`` to ``path`` atomically (temp file in the same folder, then rename).

    Args:
        path: the target file; its folder is created if missing.
        data: text (written as UTF-8), bytes, or a function that writes to the
            open binary file (e.g. ``lambda fh: torch.save(obj, fh)``).
        mode: permission bits of the new file; default: ``0o666`` less the
            umask, as for any file the user creates (``mkstemp`` alone gives 0600).

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            if isinstance(data, str):
                fh.write(data.encode("utf-8"))
            elif isinstance(data, (bytes, bytearray, memoryview)):
                fh.write(data)
            else:
                data(fh)
        os.chmod(tmp, umask_mode() if mode is None else mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def json_default(x: Any) -> Any:
    """``json.dumps`` fallback for numpy scalars and arrays."""
    import numpy as np

    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    raise TypeError(f"not JSON serialisable: {type(x).__name__}")


def dumps_json(obj: Any, *, indent: int | None = 1) -> str:
    """``json.dumps`` with numpy support (the format of every JSON file and ``--json`` line)."""
    return json.dumps(obj, indent=indent, default=json_default)
