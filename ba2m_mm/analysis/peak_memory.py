"""Peak memory of a training step on CPU: the resident set size, sampled.

On CPU the peak resident set size (RSS, sampled every 2 ms by psutil) minus
the RSS before the step is the peak memory of a step, provided freed tensors
go back to the OS: glibc's ``MALLOC_MMAP_THRESHOLD_`` is fixed for that
(:func:`reexec_with_malloc_env`). On GPU ``torch.cuda.max_memory_allocated``
is used instead (see :meth:`~ba2m_mm.analysis.step_timing.Candidate.measure_memory`).
"""
import os
import os.path as osp
import sys
import threading
import time

MALLOC_ENV = {'MALLOC_MMAP_THRESHOLD_': '131072', 'MALLOC_TRIM_THRESHOLD_': '131072'}


class PeakRSS:
    """Peak resident set size while the context is open, sampled by a thread."""

    def __init__(self, interval: float = 0.002):
        import psutil
        self.process = psutil.Process()
        self.interval = interval

    def __enter__(self):
        self.start = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(self.interval)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def delta(self) -> int:
        return self.peak - self.start


def reexec_with_malloc_env(script: str):
    """Re-run ``script`` (with this process's arguments) under a fixed mmap
    threshold, so that freed tensors leave the RSS (see the module docstring).
    Linux/glibc CPU runs only; does nothing when the threshold is already set.

    Args:
        script (str): Path of the running script, e.g. ``__file__``.
    """
    if sys.platform != 'linux' or all(os.environ.get(k) == v for k, v in MALLOC_ENV.items()):
        return
    env = dict(os.environ, **MALLOC_ENV)
    os.execve(sys.executable, [sys.executable, osp.abspath(script)] + sys.argv[1:], env)
