"""One writer at a time: the warehouse-level lock every writing command takes.

    python -m ml.lock [--timeout S] -- dbt build [dbt args]     # run any command under it

DuckDB lets one process write a database file, and fails the second one at once ("Could not
set lock on file"). adscore's writers (dbt build, ml.train, ml.score, ml.registry,
ml.pipeline) first take an exclusive ``flock`` on ``<warehouse>.lock``; a second writer
waits up to ``--lock-timeout`` / ``$ADSCORE_LOCK_TIMEOUT`` seconds (default 60), then exits
with code 7 naming the holder (pid, command, host, since when), which the holder writes into
the lock file. The kernel releases the lock when the holder dies, even by SIGKILL, so a
crash never leaves a stale lock. A holder's child processes (the pipeline's dbt and ml
steps) run under the parent's lock: the parent exports ``$ADSCORE_LOCK_HELD`` and passes the
locked descriptor down (:func:`held_lock_fds`), so the lock stays held while a child still
runs even when the parent is killed (it is released when the last process holding it exits).
"""

from __future__ import annotations

import argparse
import datetime as dt
import fcntl
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ml.errors import ConfigError, LockError
from ml.warehouse import db_path, pid_alive

HELD_ENV = "ADSCORE_LOCK_HELD"
TIMEOUT_ENV = "ADSCORE_LOCK_TIMEOUT"
DEFAULT_TIMEOUT = 60.0


_HELD_FDS: list[int] = []  # descriptors of the locks this process holds (for its children)


def held_lock_fds() -> tuple[int, ...]:
    """``pass_fds`` for a child process started under the lock: the child then holds the
    lock as well, so killing the parent does not free it while the child writes."""
    return tuple(_HELD_FDS)


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


def default_timeout() -> float:
    raw = os.environ.get(TIMEOUT_ENV)
    try:
        return float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        raise ConfigError(f"${TIMEOUT_ENV}: expected seconds, got {raw!r}") from None


def holder(path: Path) -> dict:
    """What the current holder wrote into the lock file ({} when unknown)."""
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def writer_active(warehouse: Path) -> bool:
    """Whether a writer (on any host sharing the lock file) holds the warehouse's lock now."""
    path = lock_path(warehouse)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _held_by_parent(path: Path) -> bool:
    """True when an ancestor holds this lock and passed it down through the environment."""
    held = os.environ.get(HELD_ENV, "")
    target, _, pid = held.rpartition(":")
    if target != str(path.resolve()) or not pid.isdigit():
        return False
    info = holder(path)
    return info.get("pid") == int(pid) and pid_alive(int(pid))


def _orphaned_holders(path: Path, info: dict) -> str:
    """When the recorded holder has exited on this host, the processes still holding the
    lock: those it started with the descriptor and ``$ADSCORE_LOCK_HELD`` passed down
    (:func:`held_lock_fds`), found through ``/proc`` (Linux, processes of this user; a
    waiting writer has the file open too, but not that variable). Empty otherwise."""
    pid = info.get("pid")
    if not isinstance(pid, int) or info.get("host") != socket.gethostname() or pid_alive(pid):
        return ""
    target = str(path.resolve())
    passed_down = f"{HELD_ENV}={target}:{pid}".encode()
    holders = []
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            if passed_down not in (fd_dir.parent / "environ").read_bytes().split(b"\0"):
                continue
            if any(os.readlink(fd) == target for fd in fd_dir.iterdir()):
                cmdline = (fd_dir.parent / "cmdline").read_bytes().replace(b"\0", b" ")
                holders.append(f"pid {fd_dir.parent.name} ({cmdline.decode(errors='replace').strip()[:200]})")
        except OSError:  # not ours to read, or gone meanwhile
            continue
    if not holders:
        return f" (pid {pid} has exited)"
    return f" (pid {pid} has exited; the lock is held by the process(es) it started: {', '.join(holders)})"


@contextmanager
def writer_lock(warehouse: Path, command: str, timeout: float | None = None) -> Iterator[None]:
    """Hold the warehouse's writer lock for the block (re-entrant for child processes)."""
    path = lock_path(warehouse)
    if _held_by_parent(path):
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    wait = default_timeout() if timeout is None else timeout
    if not wait >= 0:  # NaN compares false: it would wait forever without saying so
        where = f"${TIMEOUT_ENV}" if timeout is None else "--lock-timeout"
        raise ConfigError(f"{where}: expected seconds >= 0 (inf: wait for good), got {wait}")
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    info = holder(path)
                    raise LockError(
                        f"warehouse {warehouse} is locked by another writer: pid {info.get('pid', '?')} "
                        f"({info.get('command', 'unknown command')}) on {info.get('host', '?')} since "
                        f"{info.get('since', '?')}{_orphaned_holders(path, info)}; waited {wait:g}s "
                        f"(--lock-timeout / ${TIMEOUT_ENV})"
                    ) from None
                time.sleep(0.2)
        info = {
            "pid": os.getpid(),
            "command": command,
            "host": socket.gethostname(),
            "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        os.fsync(fd)
        previous = os.environ.get(HELD_ENV)
        os.environ[HELD_ENV] = f"{path.resolve()}:{os.getpid()}"
        os.set_inheritable(fd, True)
        _HELD_FDS.append(fd)
        try:
            yield
        finally:
            _HELD_FDS.remove(fd)
            if previous is None:
                os.environ.pop(HELD_ENV, None)
            else:
                os.environ[HELD_ENV] = previous
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.lock", description=__doc__.split("\n")[0])
    parser.add_argument("--duckdb", type=Path, help="warehouse file (default $DUCKDB_PATH)")
    parser.add_argument(
        "--timeout", "--lock-timeout", type=float, help=f"seconds to wait (default ${TIMEOUT_ENV} or 60)"
    )
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- command to run under the lock")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("a command to run is required, e.g. -- dbt build")
    try:
        with writer_lock(db_path(args.duckdb), " ".join(command), args.timeout):
            return subprocess.run(command, check=False, pass_fds=held_lock_fds()).returncode
    except (LockError, ConfigError) as exc:
        print(f"ml.lock: error: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
