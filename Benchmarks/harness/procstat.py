"""CPU time and memory of a running process, read from /proc.

CPU time is the sum of every thread's run time from /proc/PID/task/*/schedstat (nanoseconds),
which is what utime+stime in /proc/PID/stat measure, without their 10 ms tick granularity (a
256 MiB stream through a proxy lasts only ~100 ms). /proc/PID/stat is the fallback.
"""
import os

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    total_ns = 0
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total_ns += int(f.read().split()[0])
            except (FileNotFoundError, ProcessLookupError):
                pass  # the thread ended between listdir and open
        if total_ns:
            return total_ns / 1e9
    except FileNotFoundError:
        pass
    return stat_cpu_seconds(pid)


def stat_cpu_seconds(pid: int) -> float:
    """utime+stime of the whole process from /proc/PID/stat, at clock-tick resolution."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # After the ")" closing comm, field 3 (state) is index 0, so utime (14) and stime (15) are 11, 12.
    return (int(fields[11]) + int(fields[12])) / _TICKS


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def core_times(core: int) -> tuple[int, int]:
    """(busy, total) jiffies of one CPU core from /proc/stat."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{core} "):
                values = [int(v) for v in line.split()[1:]]
                idle = values[3] + values[4]  # idle + iowait
                return sum(values) - idle, sum(values)
    return 0, 0


def busy_fraction(before: tuple[int, int], after: tuple[int, int]) -> float:
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else 0.0
