"""Footprint of an idle connected agent: master and IMDS simulators on loopback, the Docker
step off. Started first and read last, so its idle window overlaps the other sections."""

import os
import time

from .. import procs, sims
from ..stats import mib, verdict

NODE = "bench-idle"


class IdleAgent:
    def __init__(self, ctx):
        self.ctx = ctx
        self.window = 60 if ctx.quick else 600
        work = ctx.workdir("idle")
        self.imds = sims.Imds(work, "imds")
        self.master = sims.Master(ctx.bin, work)
        env = sims.agent_env(self.imds.url, work, KONTENA_NODE_NAME=NODE, **self.master.env())
        self.agent = procs.spawn([os.path.join(ctx.bin, "kontena-agent"), "run"], env,
                                 stderr=os.path.join(work, "agent.log"))
        if not procs.wait_until(lambda: self.master.node_online(NODE), 30, 0.05):
            raise RuntimeError(f"failed to bring the idle agent online: see {work}/agent.log")
        # Idle starts once the start-up traffic (labels, handshake, first update and stats) is over.
        procs.wait_until(lambda: self.master.rest(f"/v1/nodes/bench/{NODE}").get("stats_count", 0) >= 1, 10, 0.1)
        self.t0 = time.monotonic()
        self.cpu0 = procs.cpu_seconds(self.agent.pid)
        self.wake0 = procs.wakeups(self.agent.pid)
        self.threads0 = procs.thread_wakeups(self.agent.pid)
        self.st0 = procs.status(self.agent.pid)
        self.rss_max = 0
        self.pd_max = 0

    def sample(self):
        """Called between sections: the peak over the window, not one lucky reading."""
        if self.agent.poll() is None:
            m = procs.memory_kib(self.agent.pid)
            self.rss_max = max(self.rss_max, m["Rss"])
            self.pd_max = max(self.pd_max, m["Private_Dirty"])

    def finish(self):
        remaining = self.window - (time.monotonic() - self.t0)
        while remaining > 0:
            time.sleep(min(remaining, 5))
            self.sample()
            remaining = self.window - (time.monotonic() - self.t0)
        if self.agent.poll() is not None:
            raise RuntimeError(f"the idle agent exited with {self.agent.returncode} during its window")
        secs = time.monotonic() - self.t0
        pid = self.agent.pid
        self.sample()
        mem = procs.memory_kib(pid)
        st = procs.status(pid)
        cpu = procs.cpu_seconds(pid) - self.cpu0
        wake = procs.wakeups(pid) - self.wake0
        vol = st["voluntary_ctxt_switches"] - self.st0["voluntary_ctxt_switches"]
        invol = st["nonvoluntary_ctxt_switches"] - self.st0["nonvoluntary_ctxt_switches"]
        online = self.master.node_online(NODE)
        per_thread = procs.thread_wakeups(pid)
        busiest = sorted(((n - self.threads0.get(k, 0), k) for k, n in per_thread.items()), reverse=True)
        by_thread = ", ".join(f"{name} (tid {tid}) {d}" for d, (tid, name) in busiest)
        for p in (self.agent, self.master, self.imds):
            p.stop() if hasattr(p, "stop") else procs.stop(p)
        per10 = cpu * 600 / secs
        rows = [["idle window", f"{secs:.0f} s"],
                ["still online at the end", "yes" if online else "**no**"],
                ["RSS (end / peak)", f"{mib(mem['Rss'])} / {mib(self.rss_max)} MiB"],
                ["Private_Dirty (end / peak)", f"{mib(mem['Private_Dirty'])} / {mib(self.pd_max)} MiB"],
                ["threads", str(st["Threads"])],
                ["CPU over the window", f"{cpu:.2f} s ({per10:.3f} s per 10 min)"],
                ["wake-ups (context switches, all threads)", f"{wake} ({wake / secs:.2f}/s)"],
                ["main thread: voluntary / involuntary", f"{vol} / {invol}"],
                ["context switches per thread over the window", by_thread]]
        targets = [["RSS <= 16 MiB", f"{mib(self.rss_max)} MiB (peak)", verdict(self.rss_max <= 16 * 1024)],
                   ["Private_Dirty <= 4 MiB", f"{mib(self.pd_max)} MiB (peak)", verdict(self.pd_max <= 4 * 1024)],
                   ["< 0.1 s CPU per 10 idle minutes", f"{per10:.3f} s", verdict(per10 < 0.1)]]
        return {
            "title": "Idle connected agent",
            "tables": [(["measure", "value"], rows)],
            "targets": targets,
            "notes": ["`kontena-agent run` with default intervals (ping 30 s, update and stats 60 s, label check "
                      "60 s against an absent Docker socket), connected to the master simulator; measured from "
                      "/proc/PID/smaps_rollup, /proc/PID/stat and /proc/PID/task/*/status. The window overlaps "
                      "the other sections (its CPU and switches are its own; involuntary switches can rise when "
                      "the machine is busy)."],
        }
