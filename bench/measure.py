#!/usr/bin/env python3
"""Run one command and record its wall time and peak memory (max RSS).

    measure.py --name NAME --results FILE --log FILE [--cwd DIR] [--timeout S] [--mem-limit-gb G]
               [--ok-exit CODES] -- CMD...

The command runs under GNU time (`/usr/bin/time -v`) when it exists; peak RSS is GNU time's
"Maximum resident set size". Without GNU time, the kernel's same number is read through
resource.getrusage(RUSAGE_CHILDREN) (this process runs exactly one child, so it is that child's).

A watchdog kills the command's whole process group when it runs past --timeout seconds or when
the group's resident memory passes --mem-limit-gb (so a runaway run cannot take the 24 GiB
machine down with it). One tab-separated line is appended to --results:

    name  status  wall_s  maxrss_kb  exit_code  note(empty)  cpu_s  load_before  load_after

cpu_s is user + system CPU time (GNU time's, else getrusage's; for a killed command it covers
only what was waited for, i.e. may be missing). load_* are the 1-minute load averages around
the run: other work on the machine shows up there.
status is `ok`, `failed`, `timeout` or `memlimit`. The exit code of measure.py is the
command's (124 for timeout, 137 for memlimit), except that an exit code listed in --ok-exit
(comma-separated, default 0) counts as `ok` and makes measure.py exit 0; the results line
still holds the real one. (`dbt test` and `lakeforge test` exit 1 when a data test fails,
which the data-quality benchmark wants them to.)
"""
import argparse
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from common import loadavg


def group_rss_kb(pgid):
    """Sum of VmRSS over the processes of a process group (Linux /proc)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            # Fields after the command name (which may hold spaces) start after the last ')'.
            fields = stat[stat.rindex(")") + 2:].split()
            if int(fields[2]) != pgid:  # field 5: pgrp
                continue
            with open(f"/proc/{entry}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
                        break
        except (OSError, ValueError, IndexError):
            continue
    return total


def parse_gnu_time(path):
    cpu = rss = None
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("Maximum resident set size (kbytes):"):
                    rss = int(line.rsplit(":", 1)[1])
                elif line.startswith(("User time (seconds):", "System time (seconds):")):
                    cpu = (cpu or 0.0) + float(line.rsplit(":", 1)[1])
    except (OSError, ValueError):
        pass
    return cpu, rss


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--cwd", default=None)
    ap.add_argument("--timeout", type=float, default=0, help="seconds; 0 = none")
    ap.add_argument("--mem-limit-gb", type=float, default=0, help="0 = none")
    ap.add_argument("--ok-exit", default="0", help="exit codes that count as success, e.g. 0,1")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
    if not cmd:
        ap.error("no command")

    gnu_time = shutil.which("time", path="/usr/bin:/bin")
    tfile = None
    run = cmd
    if gnu_time:
        fd, tfile = tempfile.mkstemp(prefix="gnutime.", suffix=".txt")
        os.close(fd)
        run = [gnu_time, "-v", "-o", tfile] + cmd

    status = "ok"
    load_before = loadavg()
    with open(args.log, "w") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(run, cwd=args.cwd, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        limit_kb = int(args.mem_limit_gb * 1024 * 1024) if args.mem_limit_gb else 0
        next_mem_check = 0.0
        sampled_peak_kb = 0
        while True:
            try:
                proc.wait(timeout=0.05)
                break
            except subprocess.TimeoutExpired:
                pass
            now = time.perf_counter() - start
            killed = None
            if args.timeout and now > args.timeout:
                killed = "timeout"
            elif now >= next_mem_check:
                next_mem_check = now + 0.5
                rss_now = group_rss_kb(proc.pid)
                sampled_peak_kb = max(sampled_peak_kb, rss_now)
                if limit_kb and rss_now > limit_kb:
                    killed = "memlimit"
            if killed:
                status = killed
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                    try:
                        proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        os.killpg(proc.pid, signal.SIGKILL)
                        proc.wait()
                except ProcessLookupError:
                    proc.wait()
                break
        wall_own = time.perf_counter() - start
        # The process group may hold stragglers (e.g. after GNU time was killed): end them.
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    rc = proc.returncode
    load_after = loadavg()
    cpu = rss = None
    if tfile:
        cpu, rss = parse_gnu_time(tfile)
        os.unlink(tfile)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    if rss is None:  # no GNU time, or it was killed before writing
        rss = usage.ru_maxrss
    if cpu is None:
        cpu = usage.ru_utime + usage.ru_stime
    if status != "ok":
        # A killed command was never waited for by GNU time: use the watchdog's samples.
        rss = max(rss, sampled_peak_kb)
    # Wall time: this process's monotonic clock around the run (GNU time prints only 1/100 s).
    wall = wall_own
    ok_codes = {int(c) for c in args.ok_exit.split(",") if c.strip()}
    if status == "ok" and rc not in ok_codes:
        status = "failed"
    exit_code = {"timeout": 124, "memlimit": 137}.get(status, 0 if status == "ok" else rc)
    with open(args.results, "a") as f:
        f.write(f"{args.name}\t{status}\t{wall:.3f}\t{rss}\t{rc}\t\t{cpu:.2f}\t{load_before}\t{load_after}\n")
    print(f"    {args.name}: {status}, {wall:.3f} s wall, {cpu:.2f} s CPU, peak RSS {rss / 1024:.0f} MiB"
          f" (load average {load_before} -> {load_after})", flush=True)
    sys.exit(exit_code if exit_code >= 0 else 128 - exit_code)


if __name__ == "__main__":
    main()
