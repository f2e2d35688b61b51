"""How many CPU threads training uses: intra-op threads for the training process, one for each
data-loader worker.

PyTorch's default (one thread per physical core, in every process) oversubscribes a small or
busy machine: its OpenMP threads spin while they wait for each other, and a 2-core machine that
other work also uses ran ``deepfill_v2_cpu`` at 26.8 s/step with the default and at 1.8 steps/s
with one thread. So training picks the threads itself and says what it chose:

- ``train.threads`` (``holefill train --threads N``) when it is set;
- else ``OMP_NUM_THREADS`` when the environment sets it (torchrun sets it to 1);
- else the CPUs this process may use (its affinity, shared between the local torchrun
  processes), less one for each data-loader worker, less the CPUs that other work keeps busy
  (the one-minute load average beyond the one CPU this process's own start accounts for), and
  at least 1.

Each data-loader worker runs one torch intra-op thread and ignores SIGINT, so that Ctrl+C
reaches the training process alone, which then saves a checkpoint. OpenCV needs nothing: its
thread pool does not survive the fork that starts a worker, so it runs its loops on the one
thread there (and ``cv2.setNumThreads`` in a forked worker would wait forever for the
parent's pool threads).
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass


@dataclass(frozen=True)
class ThreadPlan:
    """The chosen thread counts and why, in words (printed when training starts)."""

    threads: int
    reason: str
    workers: int

    def describe(self) -> str:
        per_worker = f", 1 in each of {self.workers} data-loader workers" if self.workers else ""
        return f"threads: {self.threads} for training ({self.reason}){per_worker}; --threads N to choose"


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the system says, else the count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def _busy_cpus() -> float:
    try:
        return float(os.getloadavg()[0])
    except (AttributeError, OSError):
        return 0.0


def choose_threads(requested: int | None, *, workers: int, local_processes: int = 1) -> ThreadPlan:
    """The intra-op threads of a training process; see the module docstring for the rule."""
    if requested is not None:
        return ThreadPlan(int(requested), "--threads / train.threads", workers)
    env = os.environ.get("OMP_NUM_THREADS", "").strip()
    if env.isdigit() and int(env) > 0:
        return ThreadPlan(int(env), "OMP_NUM_THREADS", workers)
    cpus = usable_cpus()
    share = max(1, cpus // max(1, local_processes))
    busy = _busy_cpus()  # this process's own start counts up to about one of it
    free = int(cpus - max(0.0, busy - 1.0) + 0.5)
    threads = max(1, min(share - workers, free))
    parts = [f"{cpus} CPUs"]
    if local_processes > 1:
        parts.append(f"{local_processes} processes on this machine")
    if workers:
        parts.append(f"{workers} data-loader workers")
    if free < share - workers:
        parts.append(f"a load of {busy:.1f} from other work")
    return ThreadPlan(threads, ", ".join(parts), workers)


def apply_threads(plan: ThreadPlan) -> None:
    """Set the training process's intra-op threads."""
    import torch

    torch.set_num_threads(plan.threads)


def init_loader_worker(worker_id: int) -> None:
    """``worker_init_fn`` of the training data loader: one thread, and Ctrl+C left to the trainer.

    It draws no random numbers: the data stream's randomness comes from (seed, epoch, index)."""
    import torch

    torch.set_num_threads(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
