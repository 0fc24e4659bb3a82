"""Atomic file writes and JSON conversion: the one place every output goes through.

Every result file replenish writes (policies, result JSON, reports, checkpoints,
fleet tables) is written to a temporary file in the target folder and renamed
over the target (:func:`os.replace`), so a failed or killed run never leaves a
truncated file or destroys an earlier output.  A temporary file's name holds the
writer's process id (``.NAME.PID.XXXX.tmp``); one left by a killed process is
removed by the next write to the same folder.  Folders written as a whole (the
HTML reports) go through :func:`staged_folder`: built beside the target and
swapped in at the end, so a killed run leaves either the old folder or the new
one, never a mixture.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_write", "check_output_folder", "dumps_json", "json_default", "pid_alive",
           "staged_folder", "umask_mode"]


def pid_alive(pid: int) -> bool:
    """Whether the process ``pid`` (on this machine) is still running."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def _leftovers(folder: Path, prefix: str, suffix: str) -> Iterator[Path]:
    """Entries ``PREFIX.PID.*SUFFIX`` of ``folder`` whose process ``PID`` is gone."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return
    for p in entries:
        name = p.name
        if not (name.startswith(prefix) and name.endswith(suffix)):
            continue
        pid = name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and not pid_alive(int(pid)):
            yield p


_TMP_NAME = re.compile(r"^\..+\.(\d+)\.[A-Za-z0-9_]{8}\.tmp$")


def _remove_stale_temporaries(folder: Path) -> None:
    """Remove the temporary files of :func:`atomic_write` calls whose process is gone
    (a run killed while writing)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return
    for name in names:
        m = _TMP_NAME.match(name)
        if m and not pid_alive(int(m.group(1))):
            with contextlib.suppress(OSError):
                os.unlink(folder / name)


def check_output_folder(path: str | Path | None, field: str) -> None:
    """Raise :class:`~replenish.core.validate.SpecError` unless ``path`` can be an output
    folder: it is not a file and no existing part of it is a file (checked before any
    work or output, so a bad ``--report``/``--out`` fails at once and writes nothing)."""
    from replenish.core.validate import SpecError

    if path is None:
        return
    p = Path(path)
    for part in (p, *p.parents):
        if part.exists() or part.is_symlink():
            if not part.is_dir():
                what = "is a file" if part == p else f"lies under the file {str(part)!r}"
                raise SpecError(field, str(path), f"{what}, not a folder")
            return


#: Files that mark a folder as an earlier output of :func:`staged_folder` (a report): only
#: such a folder, a new one or one of plain files is swapped; a folder with subfolders and
#: none of these files is written in place.
STAGED_MARKERS = ("report.html", "results.json", "compare.json", "index.html")


@contextlib.contextmanager
def staged_folder(folder: str | Path) -> Iterator[Path]:
    """Build the folder ``folder`` as a whole: yields a new folder beside it
    (``.NAME.PID.stage``) to write into; on success it replaces ``folder`` (an atomic
    exchange where the system has one), carrying over the entries of the old folder
    the new one does not have (as hard links).  On an error the stage is removed and
    ``folder`` is untouched; stages and old copies of killed runs are cleaned up
    first (an old copy is put back when the swap was cut short).  The current
    folder or one of its parents, and a folder with subfolders that holds none of
    :data:`STAGED_MARKERS` (not an earlier report), are written in place."""
    folder = Path(folder)
    check_output_folder(folder, "folder")
    parent, name = folder.parent, folder.name
    try:
        here = Path.cwd().resolve()
        in_place = folder.is_symlink() or folder.resolve() in (here, *here.parents) or (
            folder.is_dir() and any(e.is_dir() for e in folder.iterdir())
            and not any((folder / m).is_file() for m in STAGED_MARKERS))
    except OSError:
        in_place = True
    if in_place:
        folder.mkdir(parents=True, exist_ok=True)
        yield folder
        return
    parent.mkdir(parents=True, exist_ok=True)
    for old in _leftovers(parent, f".{name}.", ".old"):
        if folder.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(old, folder)  # a swap cut short: the old folder back
    for stale in _leftovers(parent, f".{name}.", ".stage"):
        shutil.rmtree(stale, ignore_errors=True)
    stage = parent / f".{name}.{os.getpid()}.stage"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    try:
        yield stage
        if folder.is_dir():
            for entry in folder.iterdir():  # what the new folder does not replace stays
                target = stage / entry.name
                if target.exists() or target.is_symlink() or entry.name.endswith(".tmp"):
                    continue
                if entry.is_dir() and not entry.is_symlink():
                    shutil.copytree(entry, target, symlinks=True, copy_function=_link_or_copy)
                else:
                    _link_or_copy(str(entry), str(target))
            if _exchange(stage, folder):
                shutil.rmtree(stage, ignore_errors=True)  # now the old folder
            else:
                old = parent / f".{name}.{os.getpid()}.old"
                os.rename(folder, old)
                os.rename(stage, folder)
                shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(stage, folder)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _link_or_copy(src: str, dst: str) -> None:
    if os.path.islink(src):
        os.symlink(os.readlink(src), dst)
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``); ``False`` where
    the system has no such call."""
    import sys

    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return fn(at_fdcwd, os.fsencode(str(a)), at_fdcwd, os.fsencode(str(b)), rename_exchange) == 0


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
    _remove_stale_temporaries(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
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
