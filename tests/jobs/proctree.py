"""The process tree from /proc (Linux): what a `kill -9` test checks is left behind."""

from __future__ import annotations

from pathlib import Path


def processes() -> dict[int, tuple[int, int, str]]:
    """Every live (not zombie) process: pid -> (parent pid, process group, command line)."""
    out: dict[int, tuple[int, int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # it exited meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if fields[0] == "Z":
            continue
        out[int(entry.name)] = (int(fields[1]), int(fields[2]), cmdline)
    return out


def runners_of(supervisor_pid: int) -> list[int]:
    """The supervisor's runner processes (each leads its own process group)."""
    return [pid for pid, (ppid, _, cmd) in processes().items() if ppid == supervisor_pid and "core.jobs.runner" in cmd]


def group(pgid: int) -> set[int]:
    """The live processes of a process group."""
    return {pid for pid, (_, gid, _) in processes().items() if gid == pgid}
