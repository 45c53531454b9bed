"""A fleet of real `kontena-agent run` processes (Docker step off) against one master simulator
and one IMDS simulator on loopback: time to all online, memory, simulator CPU; then a master
restart on the same port and the reconnect storm, second by second."""

import collections
import datetime
import hashlib
import os
import resource
import secrets
import time

from .. import procs, sims
from ..stats import mib, verdict


def node_id(run, i):
    """A Kontena node id (12 groups of 4 of A-Z0-9) of its own for each agent."""
    h = hashlib.sha256(f"{run}-{i}".encode()).hexdigest().upper()[:48]
    return ":".join(h[k:k + 4] for k in range(0, 48, 4))


def parse_time(s):
    """The simulator's `connected_at` ("2026-11-30 12:34:56.123456789Z") as epoch seconds."""
    day, frac = s.rstrip("Z").split(".")
    t = datetime.datetime.strptime(day, "%Y-%m-%d %H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return t.timestamp() + int(frac) / 10 ** len(frac)


def raise_fd_limit(need):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, max(soft, need)) if hard != resource.RLIM_INFINITY else max(soft, need)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def one_fleet(ctx, n):
    work = ctx.workdir(f"fleet-{n}")
    fds = raise_fd_limit(4 * n + 1024)
    imds = sims.Imds(work, "imds")
    per_grid = 250  # a Kontena grid numbers its nodes 1..254 (overlay addresses)
    grids = (n + per_grid - 1) // per_grid
    master = sims.Master(ctx.bin, work, grids=grids)
    run = secrets.token_hex(4)
    agent_bin = os.path.join(ctx.bin, "kontena-agent")
    agents = []
    try:
        t0 = time.monotonic()
        for i in range(n):
            aw = os.path.join(work, f"a{i}")
            os.makedirs(aw)
            env = sims.agent_env(imds.url, aw, KONTENA_NODE_NAME=f"fleet-{i}", KONTENA_NODE_ID=node_id(run, i),
                                 KONTENA_NODE_LABELS=f"fleet=bench rack=r{i % 10} index={i}",
                                 **master.env(i // per_grid + 1))
            agents.append(procs.spawn([agent_bin, "run"], env, stderr=os.path.join(aw, "agent.log")))
        spawned = time.monotonic() - t0
        all_online = procs.wait_until(lambda: master.stats()["online"] >= n, 60 + n * 0.2, 0.1)
        t_online = time.monotonic() - t0
        online = master.stats()["online"]
        exited = sum(1 for a in agents if a.poll() is not None)
        pd = rss = 0
        for a in agents:
            if a.poll() is None:
                m = procs.memory_kib(a.pid)
                pd += m["Private_Dirty"]
                rss += m["Rss"]
        master_cpu = procs.cpu_seconds(master.proc.pid)
        imds_cpu = procs.cpu_seconds(imds.proc.pid)
        master_pd = procs.memory_kib(master.proc.pid)["Private_Dirty"]
        # The master restarts on the same port; each agent's reconnect is its node's connected_at.
        t_restart = time.time()
        master.restart()
        t_up = time.time() - t_restart
        back = procs.wait_until(lambda: master.stats()["online"] >= online, 150, 0.2)
        t_back = time.time() - t_restart
        reconnected = [parse_time(x["connected_at"]) - t_restart for x in master.nodes()
                       if x.get("connected_at") and x["status"] == "online"]
        hist = collections.Counter(int(max(0.0, t)) for t in reconnected)
        storm_cpu = procs.cpu_seconds(master.proc.pid)
    finally:
        procs.stop_many(agents, grace=20)
        master.stop()
        imds.stop()
    peak = max(hist.values()) if hist else 0
    return {"n": n, "spawned": spawned, "online": online, "all_online": bool(all_online), "t_online": t_online,
            "exited": exited, "pd": pd, "rss": rss, "master_cpu": master_cpu, "imds_cpu": imds_cpu,
            "master_pd": master_pd, "t_up": t_up, "back": len(reconnected), "all_back": bool(back),
            "t_back": t_back, "hist": hist, "peak": peak, "storm_cpu": storm_cpu, "fds": fds, "grids": grids}


def run(ctx):
    sizes = [20] if ctx.quick else [100, 500, 1000]
    results = [one_fleet(ctx, n) for n in sizes]
    rows, hist_rows, targets = [], [], []
    for r in results:
        n = r["n"]
        rows.append([f"{n} ({r['grids']} grid{'s' if r['grids'] > 1 else ''})", f"{r['spawned']:.1f}", f"{r['t_online']:.1f}" + ("" if r["all_online"] else " (timeout)"),
                     f"{r['online']}/{n}", mib(r["pd"]), f"{r['pd'] / n / 1024:.2f}", mib(r["rss"]),
                     f"{r['master_cpu']:.2f}", f"{r['imds_cpu']:.2f}", mib(r["master_pd"]),
                     f"{r['t_back']:.1f}" + ("" if r["all_back"] else " (timeout)"), f"{r['back']}/{r['online']}",
                     f"{r['storm_cpu']:.2f}"])
        last = max(r["hist"]) if r["hist"] else 0
        hist_rows.append([str(n)] + [f"{r['hist'].get(s, 0)}" for s in range(0, min(last, 29) + 1)]
                         + ([f"+{sum(v for k, v in r['hist'].items() if k >= 30)} later"] if last >= 30 else []))
        share = r["peak"] / n if n else 0
        targets.append([f"{n} agents: no second carries > 10 % of the reconnects", f"peak {r['peak']} ({share:.0%})",
                        verdict(share <= 0.10)])
    width = max(len(h) for h in hist_rows)
    hist_rows = [h + [""] * (width - len(h)) for h in hist_rows]
    return {
        "title": "Fleet: many agents, one master; master restart",
        "tables": [(["agents", "spawn s", "all online s", "online", "agents Private_Dirty MiB", "per agent MiB",
                     "agents RSS MiB (shared pages counted per agent)", "master CPU s", "IMDS sim CPU s",
                     "master Private_Dirty MiB", "all back after restart s", "back", "master CPU after restart s"],
                    rows),
                   (["agents \\ second after restart"] + [str(s) for s in range(width - 1)], hist_rows)],
        "targets": targets,
        "notes": ["A Kontena grid holds at most 254 nodes (node numbers are overlay addresses), so the fleet is "
                  "spread over grids of 250 on the one master simulator (`--grids`). Each agent: `kontena-agent run`, its own KONTENA_NODE_ID, name, labels and KONTENA_STATE_DIR, "
                  "Docker socket absent, default intervals, AWS_EC2_METADATA_SERVICE_ENDPOINT at the one IMDS "
                  "simulator. \"all online\" counts from the first spawn. The restart: SIGTERM to the master "
                  "simulator, a new one on the same port (its registry starts empty, so each agent's "
                  "reconnect is its node's `connected_at`); the histogram counts reconnects per second after "
                  "the SIGTERM. CPU is user+system from /proc/PID/stat."],
    }
