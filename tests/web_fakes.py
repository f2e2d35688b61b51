"""Fault injection for the server's worker processes (``ServerSettings.worker_setup``).

The fills run in worker processes, so a test cannot monkeypatch a filler in its own process;
it hands one of these (module-level, so they pickle by reference) to the settings, and each
new worker runs it before its first job.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np


def break_telea() -> None:
    """telea raises an unexpected error (with details a client must not see)."""
    from holefill.classical.diffusion import Telea

    def boom(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        raise RuntimeError("secret internal detail /home/someone")

    Telea._fill = boom


def slow_telea(folder: str) -> None:
    """telea writes ``<folder>/entered-<pid>`` and then waits until ``<folder>/release`` exists
    (at most 60 s), reporting progress as it waits; ns stays fast."""
    from holefill.classical.diffusion import Telea
    from holefill.fillers import report_progress

    original = Telea._fill

    def slow(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        Path(folder, f"entered-{os.getpid()}").write_text(str(os.getpid()))
        deadline = time.monotonic() + 60
        step = 0
        while not Path(folder, "release").exists() and time.monotonic() < deadline:
            step += 1
            report_progress(min(step, 99), 100)
            time.sleep(0.05)
        return original(self, image, mask)

    Telea._fill = slow
