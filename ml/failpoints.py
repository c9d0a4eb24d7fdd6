"""Named crash points for the fault-injection tests.

``ADSCORE_FAILPOINT=<name>`` makes the process SIGKILL itself when it reaches ``<name>``
(e.g. ``train:before_commit``), the same as an OOM kill or a node loss at that instant: no
exception handler, ``finally`` block or atexit hook runs. Unset (always, outside tests), a
failpoint does nothing.

The dbt project reads the same variable at one point of its own:
``ADSCORE_FAILPOINT=dbt:listed_before_change`` makes an incrementally loaded model plan its
load as if each loaded raw file had changed just after the listing (macro raw_load_plan).
"""

from __future__ import annotations

import errno
import os
import signal

ENV = "ADSCORE_FAILPOINT"
POINTS = (
    "train:after_running_row",  # the run is marked running, nothing else written
    "train:after_artifact",  # the artifact folder is in place, the registry not yet written
    "train:before_commit",  # every row inserted, the transaction not committed
    "train:after_commit",  # committed; model card and MLflow mirror not yet done
    "train:mlflow_end",  # committed; the MLflow run about to be ended FINISHED (with MLflow only)
    "score:before_commit",
    "registry:before_commit",
)


def failpoint(name: str) -> None:
    """SIGKILL this process at ``name``; ``<name>:stop``: SIGSTOP it there instead (a process
    alive but paused, for tests that look at a run in progress); ``<name>:raise``: raise an
    OSError there (a full disk: an error the code sees, not a death)."""
    value = os.environ.get(ENV)
    if value == name:
        os.kill(os.getpid(), signal.SIGKILL)
    elif value == f"{name}:stop":
        os.kill(os.getpid(), signal.SIGSTOP)
    elif value == f"{name}:raise":
        raise OSError(errno.ENOSPC, f"No space left on device (failpoint {name})")
