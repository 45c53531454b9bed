"""Processes the bench starts, and what /proc says about them.

Every child is started in its own session (process group) and registered here; `stop_all()`
runs at exit and on SIGTERM/SIGINT, newest first, so nothing the bench starts outlives it.
"""

import atexit
import os
import signal
import subprocess
import time

_children = []      # Popen objects, start order
_cleanups = []      # callables run after the children are gone (bridges, mounts, dirs)


def spawn(argv, env, stdout=None, stderr=None, cwd=None):
    """Start argv with exactly `env` (nothing inherited) in a new session; registered for cleanup."""
    out = open(stdout, "ab") if isinstance(stdout, str) else (stdout or subprocess.DEVNULL)
    err = open(stderr, "ab") if isinstance(stderr, str) else (stderr or subprocess.DEVNULL)
    p = subprocess.Popen(argv, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                         cwd=cwd, start_new_session=True)
    for f in (out, err):
        if hasattr(f, "close") and f not in (subprocess.DEVNULL, None):
            f.close()
    _children.append(p)
    return p


def stop(p, grace=5.0):
    """SIGTERM the process group, SIGKILL after `grace` seconds; reaps it."""
    if p is None or p.poll() is not None:
        _forget(p)
        return
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
    _forget(p)


def stop_many(procs, grace=10.0):
    """SIGTERM many at once, then wait for them together (a fleet stops in parallel)."""
    live = [p for p in procs if p.poll() is None]
    for p in live:
        try:
            os.killpg(p.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    end = time.monotonic() + grace
    for p in live:
        try:
            p.wait(timeout=max(0.0, end - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
    for p in procs:
        _forget(p)


def _forget(p):
    if p in _children:
        _children.remove(p)


def on_exit(fn):
    """Run fn at exit, after every child is stopped (LIFO)."""
    _cleanups.append(fn)


def stop_all():
    stop_many(list(reversed(_children)), grace=10.0)
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception as e:  # cleanup must go on; say what was left
            print(f"bench: cleanup step failed: {e}", flush=True)


def _on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def install_cleanup():
    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)


def wait_until(predicate, timeout, interval=0.02):
    """Poll `predicate` until it returns a truthy value or `timeout` seconds pass; returns it or None."""
    end = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() >= end:
            return None
        time.sleep(interval)


def wait_file(path, timeout):
    return wait_until(lambda: os.path.exists(path) and os.path.getsize(path) > 0, timeout)


# -- /proc ------------------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid):
    """utime + stime of a live process, in seconds (from /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_kib(pid):
    """{'Rss': KiB, 'Private_Dirty': KiB, ...} from /proc/PID/smaps_rollup."""
    out = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                out[parts[0][:-1]] = int(parts[1])
    return out


def status(pid):
    """Threads and context switches from /proc/PID/status."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Threads", "voluntary_ctxt_switches", "nonvoluntary_ctxt_switches", "VmHWM", "VmRSS"):
                out[k] = int(v.split()[0])
    return out


def wakeups(pid):
    """Voluntary + involuntary context switches of every thread of pid (task/*/status)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        total += int(line.split(":")[1])
        except FileNotFoundError:
            pass
    return total


def thread_wakeups(pid):
    """{(tid, name): context switches} for each live thread of pid."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            n = 0
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        n += int(line.split(":")[1])
            out[(tid, name)] = n
        except FileNotFoundError:
            pass
    return out


def shared_libraries(pid):
    """Distinct shared objects mapped by pid (from /proc/PID/maps), the executable excluded."""
    exe = os.readlink(f"/proc/{pid}/exe")
    libs = set()
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split(None, 5)
            if len(parts) == 6:
                path = parts[5].strip()
                if path.startswith("/") and ".so" in os.path.basename(path) and path != exe:
                    libs.add(path)
    return libs
