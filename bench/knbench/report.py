"""BENCHMARKS.md: the machine, the date, the commit, then one part per section."""

import datetime
import os
import platform
import subprocess


def machine():
    model = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    load = open("/proc/loadavg").read().split()[:3]
    return {"cpu": model, "cores": os.cpu_count(), "kernel": platform.release(),
            "memory": f"{mem_kib / 1024 / 1024:.1f} GiB", "load": " ".join(load)}


def commit(source):
    def git(*args):
        return subprocess.run(["git", "-C", source, *args], capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short=12", "HEAD") or "unknown"
    dirty = " (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else ""
    return f"{head}{dirty} on {git('rev-parse', '--abbrev-ref', 'HEAD') or '?'}"


def table(headers, rows):
    out = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


def render(ctx, sections, started, elapsed, load_before):
    m = machine()
    lines = ["# kontena-node benchmarks", "",
             f"Written by `bench/run{' --quick' if ctx.quick else ''}` (see `bench/README.md`); do not edit by hand.",
             "",
             table(["", ""], [["date", started.strftime("%Y-%m-%d %H:%M UTC")],
                              ["commit", commit(ctx.source)],
                              ["mode", "quick (CI)" if ctx.quick else "full"],
                              ["binaries", f"`{os.path.relpath(ctx.bin, ctx.source)}` (release preset)"],
                              ["CPU", f"{m['cpu']}, {m['cores']} cores"],
                              ["kernel", m["kernel"]],
                              ["memory", m["memory"]],
                              ["load average before / after", f"{load_before} / {m['load']}"],
                              ["run time", f"{elapsed:.0f} s"]]),
             "",
             "Comparisons run side by side in one run, alternating; ratios are per-round, median (min-max). "
             "Absolute times are context: the machine is shared.", ""]
    summary = [t for s in sections for t in s.get("targets", [])]
    if summary:
        lines += ["## Targets", "", table(["target", "measured", ""], summary), ""]
    for s in sections:
        lines += [f"## {s['title']}", ""]
        for headers, rows in s.get("tables", []):
            lines += [table(headers, rows), ""]
        for n in s.get("notes", []):
            lines += [n, ""]
    return "\n".join(lines)


def now():
    return datetime.datetime.now(datetime.timezone.utc)
