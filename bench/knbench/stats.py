"""Side-by-side comparisons: A and B alternate in one run; the ratio is taken per pair."""

import os
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




_BUSYBOX = "/bin/busybox"
_maxrss_scale = None


def _busybox_time(argv):
    r = subprocess.run([_BUSYBOX, "time", "-v", *argv], capture_output=True, stdin=subprocess.DEVNULL)
    report = {}
    for line in r.stderr.decode(errors="replace").splitlines()[-25:]:
        k, _, v = line.strip().rpartition(": ")
        report[k] = v
    return r, report


def _rss_scale():
    """busybox `time` reports ru_maxrss as if it were pages (times page size / 1024; busybox
    miscutils/time.c, ptok()); calibrated on `busybox true`, which is far below 4 MiB."""
    global _maxrss_scale
    if _maxrss_scale is None:
        _, rep = _busybox_time([_BUSYBOX, "true"])
        kib = int(rep.get("Maximum resident set size (kbytes)", "0"))
        page_kib = os.sysconf("SC_PAGE_SIZE") // 1024
        _maxrss_scale = page_kib if kib > 4096 else 1
    return _maxrss_scale


def timed_rusage(argv, env):
    """(wall seconds, peak RSS KiB, CPU seconds, exit code, stdout, stderr) of argv.

    The peak comes from busybox `time`, which forks argv from its own small process: a child
    that Python starts directly carries Python's own RSS in ru_maxrss (execve(2) keeps the
    high-water mark of the image it replaces)."""
    scale = _rss_scale()
    t0 = time.perf_counter()
    r = subprocess.run([_BUSYBOX, "time", "-v", *argv], env=env, capture_output=True, stdin=subprocess.DEVNULL)
    secs = time.perf_counter() - t0
    lines = r.stderr.decode(errors="replace").splitlines()
    cut = next((i for i in range(len(lines) - 1, -1, -1) if lines[i].strip().startswith("Command being timed")),
               len(lines))
    rep = {}
    for line in lines[cut:]:
        k, _, v = line.strip().rpartition(": ")
        rep[k] = v
    rss = int(rep.get("Maximum resident set size (kbytes)", "0")) // scale
    cpu = float(rep.get("User time (seconds)", "0")) + float(rep.get("System time (seconds)", "0"))
    code = int(rep.get("Exit status", "-1"))
    err = "\n".join(lines[:cut]).encode()
    return secs, rss, cpu, code, r.stdout, err
