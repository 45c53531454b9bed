"""Start of `kontena-agent run` to the labels live in a real (private) dockerd and the node
online in the master simulator."""

import json
import os
import secrets
import signal
import statistics
import time

from .. import docker, procs, sims
from ..stats import ms
from .fleet import node_id


def run(ctx):
    title = "Labels live in dockerd, node online"
    why = docker.available()
    if why:
        return {"title": title, "tables": [], "targets": [], "notes": [f"skipped: {why}"]}
    rounds = 1 if ctx.quick else 5
    work = ctx.workdir("docker-labels")
    imds = sims.Imds(work, "imds")
    master = sims.Master(ctx.bin, work)
    d = docker.Dockerd(work)
    dockerd_pid = int(open(d.pidfile).read().strip())
    rows = []
    run_id = secrets.token_hex(4)
    try:
        for i in range(rounds):
            # Each round starts from an engine without labels and a node the master has not seen;
            # a reload leaves the labels alone unless the file sets the key, so it says [].
            with open(d.config, "w") as f:
                json.dump({"deprecated-key-path": os.path.join(d.dir, "key.json"), "labels": []}, f)
            os.kill(dockerd_pid, signal.SIGHUP)
            if not procs.wait_until(lambda: not d.labels(), 20, 0.05):
                raise RuntimeError("failed to reset the private dockerd's labels: SIGHUP did not drop them")
            name = f"bench-docker-{i}"
            agent_work = ctx.workdir(f"docker-labels/agent-{i}")
            # One dockerd means one Docker ID: a node id of its own makes each round a new node.
            env = sims.agent_env(imds.url, agent_work, KONTENA_NODE_NAME=name,
                                 KONTENA_NODE_ID=node_id(run_id, i), **master.env(), **d.env())
            t0 = time.perf_counter()
            agent = procs.spawn([os.path.join(ctx.bin, "kontena-agent"), "run"], env,
                                stderr=os.path.join(agent_work, "agent.log"))
            marks = {}

            def progress():
                now = time.perf_counter() - t0
                if "labels" not in marks and any(lbl.startswith("availability-zone=") for lbl in d.labels()):
                    marks["labels"] = now
                if "online" not in marks and master.node_online(name):
                    marks["online"] = now
                return len(marks) == 2 or agent.poll() is not None
            procs.wait_until(progress, 60, 0.005)
            procs.stop(agent)
            if len(marks) != 2:
                raise RuntimeError(f"failed to see labels and node online within 60 s (got {sorted(marks)}): "
                                   f"see {agent_work}/agent.log")
            rows.append((marks["labels"], marks["online"]))
    finally:
        d.stop()
        master.stop()
        imds.stop()
    labels = [r[0] for r in rows]
    online = [r[1] for r in rows]
    table = [["labels in `GET /info`", ms(statistics.median(labels)), ms(min(labels)), ms(max(labels))],
             ["node online in the master", ms(statistics.median(online)), ms(min(online)), ms(max(online))],
             ["both", ms(statistics.median(max(r) for r in rows)), ms(min(max(r) for r in rows)),
              ms(max(max(r) for r in rows))]]
    return {
        "title": title,
        "tables": [(["from process start to", "median ms", "min ms", "max ms"], table)],
        "targets": [],
        "notes": [f"{rounds} round(s); each from an engine without labels (daemon.json reset, SIGHUP) and a new "
                  "node. Private dockerd (`--bridge=none --iptables=false --ip6tables=false --storage-driver=vfs`, "
                  "own socket, config, data root, pidfile; reload by SIGHUP to its pid), IMDS and master "
                  "simulators on loopback; polled every 5 ms."],
    }
