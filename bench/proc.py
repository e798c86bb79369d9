"""What the kernel says about a process: CPU time and resident memory, from ``/proc``.

``relay247 serve --workers 1`` serves in the process the bench started; with more workers,
uvicorn's supervisor forks them, so every reader here sums over the process and its
descendants. On a system without ``/proc`` (not Linux) the readers return ``None``.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path

PROC = Path("/proc")
_TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (which may hold spaces)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()


def descendants(pid: int) -> list[int]:
    """``pid`` and every live process below it."""
    children: dict[int, list[int]] = {}
    try:
        entries = [e for e in os.listdir(PROC) if e.isdigit()]
    except OSError:
        return [pid]
    for entry in entries:
        fields = _stat_fields(int(entry))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry))  # field 4: ppid
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, ()))
    return tree


def cpu_seconds(pids: list[int]) -> float | None:
    """utime + stime of these processes, in seconds; ``None`` if none of them can be read."""
    total, seen = 0, False
    for pid in pids:
        fields = _stat_fields(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # fields 14 and 15: utime, stime
            seen = True
    return total / _TICKS_PER_S if seen else None


def tree_cpu_seconds(pid: int) -> float | None:
    return cpu_seconds(descendants(pid))


def command_name(pid: int) -> str | None:
    try:
        return (PROC / str(pid) / "comm").read_text().strip()
    except OSError:
        return None


def rss_kib(pid: int) -> int | None:
    """VmRSS of ``pid`` and its descendants, in KiB."""
    total, seen = 0, False
    for member in descendants(pid):
        try:
            status = (PROC / str(member) / "status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
                seen = True
    return total if seen else None


def own_cpu_seconds() -> float:
    """CPU of this process (every thread): the load client's own cost."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu_seconds() -> float:
    """CPU of the children this process has waited for (a finished ``wrk``, for one)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def at_least(limit: int, wanted: int) -> bool:
    return limit == resource.RLIM_INFINITY or limit >= wanted


def raise_open_files_limit(wanted: int) -> tuple[int, int]:
    """Raise the soft limit on open files to ``wanted`` (and the hard limit too when that is
    allowed, as it is for root); return the (soft, hard) limits now in force. The server,
    started afterwards, inherits them."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if at_least(soft, wanted):
        return soft, hard
    if at_least(hard, wanted):
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    else:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, wanted))
        except (ValueError, OSError):  # not root: the hard limit is as far as we may go
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)
