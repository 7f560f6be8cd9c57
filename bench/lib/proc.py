#!/usr/bin/env python3
"""proc.py cpu|mem PID — resources of PID and every live descendant, from /proc.

cpu: CPU seconds (user + system) spent so far, one number.

/proc/<pid>/stat already sums all threads of a process (utime, stime); cutime and cstime add the
children that were reaped (nginx workers retired by a reload). Live children are found by their
parent pid and added with their own utime + stime (+ their reaped children).

mem: "pss_mib=X rss_mib=Y" summed over the tree from smaps_rollup. PSS is the fair figure for
nginx, whose workers share the master's pages (RSS counts those once per process).
"""
import os
import sys


def read_stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces: split after the last ')'.
    fields = text[text.rfind(")") + 2:].split()
    # fields[0] is field 3 (state); field N is fields[N - 3].
    return {"ppid": int(fields[1]), "ticks": sum(int(fields[i]) for i in (11, 12, 13, 14))}


def tree(root):
    stats = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            stat = read_stat(int(name))
            if stat is not None:
                stats[int(name)] = stat
    if root not in stats:
        sys.exit(f"proc.py: no process {root}")
    children = {}
    for pid, stat in stats.items():
        children.setdefault(stat["ppid"], []).append(pid)
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(children.get(pid, []))
    return pids, stats


def rollup_kib(pid, key):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass  # exited between the listing and now
    return 0


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("cpu", "mem"):
        sys.exit("usage: proc.py cpu|mem PID")
    pids, stats = tree(int(sys.argv[2]))
    if sys.argv[1] == "cpu":
        ticks = sum(stats[pid]["ticks"] for pid in pids)
        print(f"{ticks / os.sysconf('SC_CLK_TCK'):.2f}")
    else:
        pss = sum(rollup_kib(pid, "Pss") for pid in pids) / 1024
        rss = sum(rollup_kib(pid, "Rss") for pid in pids) / 1024
        print(f"pss_mib={pss:.1f} rss_mib={rss:.1f}")


if __name__ == "__main__":
    main()
