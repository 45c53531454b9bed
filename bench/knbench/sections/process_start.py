"""Process start: `kontena-agent --version` next to `curl --version`; shared libraries loaded;
what linking choices change (relinked variants of the release binary, measured side by side)."""

import os
import re
import shlex
import subprocess

from .. import procs, sims
from ..stats import alternate, fmt_ratio, med, mib, ms, ratio, timed_run

# Link-only variants: the release objects relinked with extra flags (no recompilation). The
# release preset already links the C++ libraries in (KN_STATIC_CXX, cmake/dependencies.cmake);
# these show what the linker could still change on top.
VARIANTS_FULL = {
    "-Wl,--as-needed": ["-Wl,--as-needed"],
    "-Wl,-z,now (bind every symbol at start)": ["-Wl,-z,now"],
}
VARIANTS_QUICK = {"-Wl,--as-needed": VARIANTS_FULL["-Wl,--as-needed"]}


def relink(ctx, flags, out):
    """The release link command of kontena-agent (from ninja), with `flags` and another output."""
    cmds = subprocess.run(["ninja", "-C", ctx.build, "-t", "commands", "kontena-agent"], capture_output=True,
                          text=True, check=True).stdout.strip().splitlines()
    link = cmds[-1]
    m = re.search(r"-o (\S*kontena-agent)\b", link)
    if not m:
        raise RuntimeError("failed to find the link command of kontena-agent in `ninja -t commands`")
    link = link.replace(m.group(0), "-o " + shlex.quote(out), 1)
    # Flags go right after the compiler driver (the first word after ": && ").
    link = re.sub(r"^(:\s*&&\s*)?(\S+)", lambda mm: (mm.group(1) or "") + mm.group(2) + " " + " ".join(flags),
                  link, count=1)
    r = subprocess.run(["bash", "-c", link], cwd=ctx.build, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"failed to relink kontena-agent with {' '.join(flags)}: {r.stderr.strip()[-400:]}")
    return out


def ldd_count(binary):
    out = subprocess.run(["ldd", binary], capture_output=True, text=True).stdout
    return sum(1 for line in out.splitlines() if ".so" in line and "linux-vdso" not in line)


def needed_count(binary):
    """Libraries the binary itself names (DT_NEEDED); the rest come in through them."""
    out = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True).stdout
    return sum(1 for line in out.splitlines() if "(NEEDED)" in line)


# An empty program that links the named libraries and, given "park", waits for a signal: what a
# set of shared libraries costs at start and in memory, apart from the code that uses them.
PROBE_SOURCE = """#include <unistd.h>
int main(int argc, char **argv) { if (argc > 1 && argv[1][0] == 'p') pause(); return 0; }
"""


def library_probes(agent, work):
    """Probes with the agent's DT_NEEDED libraries, and with the same minus libcurl (with its own
    dependencies, most of what the loader maps): what not loading libcurl would change."""
    out = subprocess.run(["readelf", "-d", agent], capture_output=True, text=True, check=True).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)
    source = os.path.join(work, "probe.c")
    with open(source, "w") as f:
        f.write(PROBE_SOURCE)
    sets = {"empty program, the agent's libraries": needed,
            "empty program, the agent's libraries but libcurl": [n for n in needed if not n.startswith("libcurl.")]}
    probes = {}
    for i, (name, libs) in enumerate(sets.items()):
        probe = os.path.join(work, f"probe-{i}")
        r = subprocess.run(["cc", "-O2", source, "-o", probe, "-Wl,--no-as-needed"] + [f"-l:{n}" for n in libs],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"failed to link the library probe: {r.stderr.strip()[-400:]}")
        probes[name] = probe
    return probes


def parked(binary, work, probe=False):
    """Shared objects mapped and memory of a started agent parked in its IMDS retries (a closed
    loopback port): everything loaded, nothing connected. A probe parks in pause()."""
    env = sims.agent_env("http://127.0.0.1:9", work, KONTENA_IMDS_DEADLINE="30s")
    p = procs.spawn([binary, "park" if probe else "labels"], env)
    try:
        seen = []

        def settled():  # start-up is over when what is mapped stops changing between polls
            seen.append((len(procs.shared_libraries(p.pid)), procs.memory_kib(p.pid).get("Rss")))
            return len(seen) >= 2 and seen[-1] == seen[-2]
        procs.wait_until(settled, 5, 0.05)
        libs = procs.shared_libraries(p.pid)
        mem = procs.memory_kib(p.pid)
        return len(libs), mem
    finally:
        procs.stop(p)


def run(ctx):
    rounds = 11 if ctx.quick else 41
    work = ctx.workdir("start")
    agent = os.path.join(ctx.bin, "kontena-agent")
    curl = "/usr/bin/curl"
    binaries = {"release build": agent}
    notes = []
    variants = VARIANTS_QUICK if ctx.quick else VARIANTS_FULL
    for i, (name, flags) in enumerate(variants.items()):
        try:
            binaries[name] = relink(ctx, flags, os.path.join(work, f"kontena-agent-{i}"))
        except (RuntimeError, subprocess.CalledProcessError) as e:
            notes.append(f"variant {name} not measured: {e}")
    try:
        probes = library_probes(agent, work)
        binaries.update(probes)
    except (RuntimeError, subprocess.CalledProcessError, OSError) as e:
        probes = {}
        notes.append(f"library probes not measured: {e}")
    env = sims.base_env()

    def version(b):
        def go():
            secs, r = timed_run([b, "--version"], env)
            if r.returncode != 0:
                raise RuntimeError(f"failed to run {b} --version: exit {r.returncode}")
            return secs
        return go

    runs = {name: version(b) for name, b in binaries.items()}
    runs["curl --version"] = version(curl)
    times = alternate(runs, rounds)
    base = times["release build"]
    rows = []
    for name, xs in times.items():
        b = binaries.get(name, curl)
        libs_ldd = ldd_count(b)
        if name == "curl --version":
            libs_maps, mem = "-", {}
        else:
            libs_maps, mem = parked(b, work, probe=name in probes)
        rows.append([name if name != "release build" else "kontena-agent (release build)", ms(med(xs)),
                     ms(min(xs)), ms(max(xs)), fmt_ratio(ratio(xs, base)), str(needed_count(b)), str(libs_ldd), str(libs_maps),
                     mib(mem["Rss"]) if mem else "-", mib(mem["Private_Dirty"]) if mem else "-",
                     f"{os.path.getsize(b) / 1e6:.1f}"])
    notes.append(f"{rounds} rounds of `--version`, alternating. \"vs release\": per-round time ratio to the "
                 "release binary, median (min-max). Libraries: NEEDED (named by the binary, `readelf -d`), `ldd` (what the loader resolves) and "
                 "/proc/PID/maps of a started agent parked in its IMDS retries (memory from smaps_rollup of "
                 "the same process). Variants are the release objects relinked with the named flags "
                 "(`ninja -t commands kontena-agent`); size includes debug info (RelWithDebInfo). The two "
                 "\"empty program\" rows are C programs that only load the libraries the agent names "
                 "(`readelf -d`), with and without libcurl: the cost of the library set itself.")
    return {
        "title": "Process start and linking",
        "tables": [(["binary", "--version median ms", "min ms", "max ms", "vs release", "NEEDED", "libs (ldd)",
                     "libs (maps)", "RSS MiB", "Private_Dirty MiB", "size MB"], rows)],
        "targets": [],
        "notes": notes,
    }
