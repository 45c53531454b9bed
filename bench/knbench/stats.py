"""Side-by-side comparisons: A and B alternate in one run; the ratio is taken per pair."""

import statistics
import subprocess
import time


def timed_run(argv, env, timeout=60, stdin=None):
    """Wall time (s) from start to exit of argv; (seconds, CompletedProcess)."""
    t0 = time.perf_counter()
    r = subprocess.run(argv, env=env, capture_output=True, timeout=timeout, input=stdin)
    return time.perf_counter() - t0, r


def alternate(variants, rounds):
    """variants: {name: fn() -> seconds}. Runs them in turn, rotating the order each round so no
    variant always goes first. Returns {name: [seconds...]}."""
    names = list(variants)
    out = {n: [] for n in names}
    for i in range(rounds):
        order = names[i % len(names):] + names[:i % len(names)]
        for n in order:
            out[n].append(variants[n]())
    return out


def ratio(slow, fast):
    """Per-round ratio slow/fast: (median, min, max)."""
    rs = [s / f for s, f in zip(slow, fast) if f > 0]
    return statistics.median(rs), min(rs), max(rs)


def ms(seconds):
    return f"{seconds * 1000:.1f}"


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def fmt_ratio(r):
    m, lo, hi = r
    return f"{m:.2f}x ({lo:.2f}-{hi:.2f})"


def mib(kib):
    return f"{kib / 1024:.1f}"


def verdict(ok):
    return "met" if ok else "**missed**"



def timed_rusage(argv, env):
    """(wall seconds, peak RSS KiB of that child, CPU seconds, exit code, stdout, stderr), from wait4(2)."""
    import os
    import tempfile
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        secs = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return secs, ru.ru_maxrss, ru.ru_utime + ru.ru_stime, p.returncode, out.read(), err.read()
