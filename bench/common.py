"""Helpers the benchmark scripts share (standard library only: every venv and python3 can import it).

    loadavg()                  the 1-minute load average, as /proc/loadavg gives it ("?" if unreadable)
    run(cmd, cwd=None, env=None)
                               runs cmd to the end with its output captured and returns its stdout;
                               when it fails, exits the benchmark with the command and its output

Scripts in bench/ import it directly (their folder is on sys.path); scripts in bench/*/ put bench/
on sys.path first. bench/lib.sh is the shell side of the same idea.
"""
import subprocess
import sys


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return "?"


def run(cmd, cwd=None, env=None):
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
    return out.stdout
