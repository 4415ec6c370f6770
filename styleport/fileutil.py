"""Safe output: nothing half-written where a user expects a result, no user data replaced.

- ``atomic_output(path)`` yields a temp path (file or directory, the caller decides) inside this
  run's private temp folder beside ``path``; on success it is renamed onto ``path``, on any
  exception it is deleted. An existing folder at ``path`` is replaced only if styleport made it.
- ``private_temp(folder)``: one private temp folder per process and output folder,
  ``folder/.styleport-tmp-<pid>-<id>/``, holding a locked ``.lock`` file; removed when the last
  user leaves (and at exit). Folders of killed runs (lock no longer held) are removed by the next
  run that writes into the same folder.
- ``scratch(folder)``: points ``tempfile`` and ``$TMPDIR`` (coremltools, TensorFlow, Node) at that
  private folder for the duration, so third-party temp files are cleaned up with it.
- ``claim_folder(folder)``: a command that writes a folder writes only into a new or empty
  folder or one styleport created before (it holds the ``.styleport-output`` marker); anything
  else is refused with one line.
- Every ``OSError`` while writing becomes one ``OutputError`` line naming the path.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from styleport.errors import OutputError

TEMP_PREFIX = ".styleport-tmp-"
MARKER = ".styleport-output"
_LEGACY_TEMP = re.compile(r"^\..+\.(\d+)\.[0-9a-f]{8}\.(tmp|old)")  # atomic_output's names before 0.1.1
_STALE_UNLOCKED_AGE = 60.0  # s: a temp folder without a lock file older than this is a dead run's

try:  # POSIX: the lock says "alive" even across pid reuse
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

# Tests: SIGKILL this process just before the N-th rename onto a final name (1-based), to prove that
# a run killed at that point leaves no partial file under a final name and that a rerun cleans up.
KILL_HOOK_ENV = "STYLEPORT_TEST_KILL_BEFORE_RENAME"
_renames = itertools.count(1)

_private: dict[Path, list] = {}  # output folder -> [temp folder, lock fd, users, owner pid]
_counter = itertools.count()


def describe(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def output_error(path: Path, exc: OSError, what: str = "cannot write") -> OutputError:
    return OutputError(f"{path}: {what} ({describe(exc)})")


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        with contextlib.suppress(OSError):
            path.unlink()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _is_stale(temp: Path) -> bool:
    """A private temp folder whose owner is gone (lock free, or no lock and old)."""
    lock = temp / ".lock"
    if fcntl is None or not lock.is_file():
        match = re.match(re.escape(TEMP_PREFIX) + r"(\d+)-", temp.name)
        try:
            age = time.time() - temp.stat().st_mtime
        except OSError:
            return False
        if match and fcntl is None:
            return not _pid_alive(int(match.group(1)))
        return age > _STALE_UNLOCKED_AGE
    try:
        fd = os.open(lock, os.O_RDWR)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def sweep_stale(folder: Path) -> list[Path]:
    """Remove temp folders and files that killed styleport runs left in ``folder``."""
    removed = []
    ours = {entry[0] for entry in _private.values()}
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for entry in entries:
        if entry.name.startswith(TEMP_PREFIX) and entry not in ours and _is_stale(entry):
            _remove(entry)
            removed.append(entry)
        elif (m := _LEGACY_TEMP.match(entry.name)) and not _pid_alive(int(m.group(1))):
            _remove(entry)
            removed.append(entry)
    return removed


def _acquire(folder: Path) -> Path:
    folder = Path(os.path.abspath(folder))
    entry = _private.get(folder)
    if entry is not None and entry[0].is_dir():
        entry[2] += 1
        return entry[0]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        sweep_stale(folder)
        temp = folder / f"{TEMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        temp.mkdir()
        fd = os.open(temp / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise output_error(folder, exc) from None
    if fcntl is not None:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    _private[folder] = [temp, fd, 1, os.getpid()]
    return temp


def _release(folder: Path) -> None:
    folder = Path(os.path.abspath(folder))
    entry = _private.get(folder)
    if entry is None:
        return
    entry[2] -= 1
    if entry[2] <= 0:
        _drop(folder)


def _drop(folder: Path) -> None:
    temp, fd, _, owner = _private.pop(folder)
    if owner == os.getpid():  # never from a forked child (DataLoader workers)
        shutil.rmtree(temp, ignore_errors=True)
    with contextlib.suppress(OSError):
        os.close(fd)


@atexit.register
def _cleanup_all() -> None:
    for folder in list(_private):
        _drop(folder)


@contextlib.contextmanager
def private_temp(folder: str | os.PathLike) -> Iterator[Path]:
    """This process's private temp folder inside ``folder`` (created; removed when unused)."""
    temp = _acquire(Path(folder))
    try:
        yield temp
    finally:
        _release(Path(folder))


@contextlib.contextmanager
def scratch(folder: str | os.PathLike) -> Iterator[Path]:
    """Point tempfile / $TMPDIR at a fresh folder inside this run's private temp folder."""
    with private_temp(folder) as temp:
        work = temp / f"scratch{next(_counter)}"
        work.mkdir()
        old_tempdir, old_env = tempfile.tempdir, os.environ.get("TMPDIR")
        tempfile.tempdir = str(work)
        os.environ["TMPDIR"] = str(work)
        try:
            yield work
        finally:
            tempfile.tempdir = old_tempdir
            if old_env is None:
                os.environ.pop("TMPDIR", None)
            else:
                os.environ["TMPDIR"] = old_env


def _in_private_temp(path: Path) -> bool:
    return any(part.startswith(TEMP_PREFIX) for part in Path(os.path.abspath(path)).parts[:-1])


def is_ours(folder: Path) -> bool:
    """A folder styleport created (it holds the marker) or an empty one."""
    try:
        return (folder / MARKER).is_file() or not any(p for p in folder.iterdir() if not p.name.startswith(TEMP_PREFIX))
    except OSError:
        return False


def mark(folder: Path, what: str) -> None:
    """Write the marker that lets later runs replace files in ``folder``."""
    from styleport import __version__

    (folder / MARKER).write_text(f"created by styleport {__version__} ({what}); styleport may replace it\n")


@contextlib.contextmanager
def atomic_output(path: str | os.PathLike, replaceable: Callable[[Path], bool] | None = None) -> Iterator[Path]:
    """Yield a temp path for ``path``; rename it onto ``path`` only if the block succeeds.

    The temp path has ``path``'s own name (tools that pick a format from the extension work)
    inside the private temp folder of ``path``'s folder, so the rename is atomic. An existing
    folder at ``path`` is replaced only if it is empty, holds the marker or ``replaceable(path)``
    says it is an earlier output of the same kind; an existing folder is never replaced by a
    file. Inside another atomic_output's temp path, writes go straight to ``path``.
    """
    path = Path(path)
    if _in_private_temp(path):  # nested: the outer atomic_output renames the whole thing
        try:
            yield path
        except BaseException:
            _remove(path)
            raise
        return
    _check_replace(path, replaceable)
    with private_temp(path.parent) as temp:
        slot = temp / str(next(_counter))
        slot.mkdir()
        tmp = slot / path.name
        try:
            yield tmp
            if not tmp.exists():
                raise OutputError(f"{path}: the writer produced nothing")
            _check_replace(path, replaceable, tmp.is_dir())
            if os.environ.get(KILL_HOOK_ENV) == str(next(_renames)):
                import signal

                os.kill(os.getpid(), signal.SIGKILL)
            try:
                if tmp.is_dir() and path.is_dir() and not path.is_symlink():
                    old = slot / ".old"
                    os.replace(path, old)
                    os.replace(tmp, path)
                else:
                    os.replace(tmp, path)
            except OSError as exc:
                raise output_error(path, exc) from None
        except OSError as exc:
            raise output_error(path, exc) from None
        finally:
            shutil.rmtree(slot, ignore_errors=True)


def _check_replace(path: Path, replaceable: Callable[[Path], bool] | None, new_is_dir: bool | None = None) -> None:
    if path.is_symlink() or not path.exists():
        return
    if path.is_dir():
        if new_is_dir is False:
            raise OutputError(f"{path}: is a folder; not replacing it with a file")
        if not (is_ours(path) or (replaceable is not None and replaceable(path))):
            raise OutputError(
                f"{path}: folder exists and was not created by styleport; not replacing it (pick a new name)"
            )
    elif new_is_dir:
        raise OutputError(f"{path}: is a file; not replacing it with a folder")


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temp file, fsync and an atomic rename."""
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


def claim_folder(folder: str | os.PathLike, what: str, legacy: Callable[[Path], bool] | None = None) -> Path:
    """Make ``folder`` an output folder of this run, before any work, or refuse with one line.

    Accepted: a new folder (created, marked), an empty one (marked), one holding the marker, or
    one ``legacy(folder)`` recognises as an earlier styleport output. A write probe (the marker)
    makes a read-only folder fail here rather than after the work.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder}: exists and is a file, not a folder; pick a new {what} folder")
    top = None  # the outermost folder this call creates (release_unused removes it again if nothing is written)
    if not folder.exists():
        top = folder
        while not top.parent.exists() and top.parent != top:
            top = top.parent
    if folder.is_dir() and not is_ours(folder) and not (legacy is not None and legacy(folder)):
        raise OutputError(
            f"{folder}: folder is not empty and was not created by styleport; "
            f"not writing into it (pick a new or empty {what} folder)"
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if (folder / MARKER).is_file():
            with open(folder / MARKER, "a"):
                pass  # write probe
        else:
            mark(folder, what)
        sweep_stale(folder)
    except OSError as exc:
        raise output_error(folder, exc) from None
    if top is not None:
        _CREATED.append((top, folder))
    return folder


_CREATED: list[tuple[Path, Path]] = []  # (outermost created, claimed) by claim_folder in this process


def release_unused() -> list[Path]:
    """Remove the folders ``claim_folder`` created in this process that still hold nothing but the marker
    (a command that stopped on bad input before writing anything), and the parents it created with them.
    Called by the CLI when a command ends, so bad input leaves nothing behind. Returns what was removed."""
    removed = []
    for top, folder in reversed(_CREATED):
        try:
            if not folder.is_dir() or {p.name for p in folder.iterdir()} != {MARKER}:
                continue
            (folder / MARKER).unlink()
            path = folder
            while True:
                path.rmdir()  # only empty folders: never anything a user put there
                removed.append(path)
                if path == top or any(path.parent.iterdir()):
                    break
                path = path.parent
        except OSError:
            continue
    _CREATED.clear()
    return removed


def holds_only(folder: Path, names: set[str], required: set[str] = frozenset()) -> bool:
    """Legacy test: ``folder`` has all of ``required`` and nothing outside ``names`` (temp files aside)."""
    try:
        present = {p.name for p in folder.iterdir() if not p.name.startswith(TEMP_PREFIX) and p.name != MARKER}
    except OSError:
        return False
    return bool(present) and required <= present and present <= names
