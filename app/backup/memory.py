"""Peak resident memory of this process and of a child, from the kernel's high-water mark.

ru_maxrss (getrusage, wait4) is no use here: at exec the kernel folds the RSS of the memory map
being replaced into the new program's maxrss, and subprocess forks with vfork, so a child's
ru_maxrss starts at its parent's RSS. VmHWM in /proc/<pid>/status belongs to the current map only.
"""

from __future__ import annotations

import resource
import threading
from pathlib import Path

KIB_PER_MIB = 1024


def own_peak_rss_mib() -> float:
    """VmHWM of this process; ru_maxrss where /proc is missing (not Linux)."""
    peak_kib = _vm_hwm_kib(Path("/proc/self/status"))
    if peak_kib is None:
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak_kib / KIB_PER_MIB, 1)


def _vm_hwm_kib(status: Path) -> int | None:
    try:
        text = status.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


class PeakMemory:
    """Peak RSS of a running child, sampled from /proc/<pid>/status (VmHWM) on Linux.

    ru_maxrss cannot tell (see the module docstring).
    """

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self._status = Path(f"/proc/{pid}/status")
        self._interval = interval
        self._stopped = threading.Event()
        self.peak_kib = 0
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def stop(self) -> float:
        """Stops sampling; returns the peak in MiB (0 where /proc is not available)."""
        self._stopped.set()
        self._thread.join()
        return round(self.peak_kib / KIB_PER_MIB, 1)

    def _sample(self) -> None:
        while True:
            self._read()
            if self._stopped.wait(self._interval):
                return

    def _read(self) -> None:
        self.peak_kib = max(self.peak_kib, _vm_hwm_kib(self._status) or 0)
