"""Runtime: service pods on a private dockerd. Time from the master's deploy to the container
running (image present vs pulled from a loopback docker-registry, side by side); the agent's
CPU and memory for one reconcile pass with many pods; Private_Dirty with them running."""

import json
import os
import socket
import statistics
import subprocess
import tarfile
import time
import urllib.parse
import urllib.request

from .. import docker, procs, sims
from ..stats import fmt_ratio, mib, ms, ratio

NODE = "bench-runtime"
# sh as PID 1 ignores SIGTERM unless trapped: without the trap every stop waits Docker's 10 s.
CMD = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_registry(work):
    """docker-registry on 127.0.0.1 (no auth: the pull is timed, not the credentials)."""
    addr = f"127.0.0.1:{free_port()}"
    cfg = os.path.join(work, "registry.yml")
    with open(cfg, "w") as f:
        f.write(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {work}/registry\nhttp:\n  addr: {addr}\n")
    p = procs.spawn(["docker-registry", "serve", cfg], sims.base_env(), stderr=os.path.join(work, "registry.log"))

    def up():
        try:
            return urllib.request.urlopen(f"http://{addr}/v2/", timeout=2).status == 200
        except OSError:
            return False
    if not procs.wait_until(up, 30, 0.05):
        raise RuntimeError(f"failed to start docker-registry on {addr}: see {work}/registry.log")
    return p, addr


def busybox_image(d, work, image):
    """A tiny image built offline from busybox-static (sh and sleep), imported and pushed."""
    tar = os.path.join(work, "rootfs.tar")
    with tarfile.open(tar, "w") as t:
        t.add("/bin/busybox", "usr/bin/busybox")
        for applet in ("sh", "sleep"):
            info = tarfile.TarInfo(f"bin/{applet}")
            info.type, info.linkname = tarfile.SYMTYPE, "/usr/bin/busybox"
            t.addfile(info)
    d.cli("import", tar, image)
    d.cli("push", image)


def running(d, prefix):
    flt = urllib.parse.quote(json.dumps({"name": [prefix], "status": ["running"]}))
    return len(d.get(f"/containers/json?filters={flt}"))


def all_containers(d, prefix):
    flt = urllib.parse.quote(json.dumps({"name": [prefix]}))
    return len(d.get(f"/containers/json?all=1&filters={flt}"))


def stack_body(name, image, instances):
    return {"name": name, "services": [{"name": "svc", "image": image, "cmd": CMD, "strategy": "daemon",
                                        "instances": instances, "affinity": ["label==ephemeral=true"]}]}


def remove_stack(master, d, name, timeout=120):
    master.rest(f"/v1/stacks/bench/{name}", "DELETE")
    if not procs.wait_until(lambda: all_containers(d, f"{name}.svc-") == 0, timeout, 0.1):
        raise RuntimeError(f"failed to remove stack {name}: containers left after {timeout} s")


def run(ctx):
    title = "Runtime: service pods"
    why = docker.available()
    for tool in ("docker-registry", "docker"):
        if not why and not subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True).stdout:
            why = f"{tool} not installed"
    if not why and not os.path.exists("/bin/busybox"):
        why = "busybox-static not installed"
    if why:
        return {"title": title, "tables": [], "targets": [], "notes": [f"skipped: {why}"]}
    rounds = 2 if ctx.quick else 5
    pods = 5 if ctx.quick else 50
    work = ctx.workdir("runtime")
    d = docker.Dockerd(work, bridge=True)
    reg, addr = start_registry(work)
    image = f"{addr}/bench/sleep:latest"
    busybox_image(d, work, image)
    imds = sims.Imds(work, "imds")
    master = sims.Master(ctx.bin, work)
    # Instances of a deploy go one after another, each waiting for set_state; poll it often.
    master.rest("/v1/_sim/config", "POST", {"deploy_poll_ms": 20})
    env = sims.agent_env(imds.url, work, KONTENA_NODE_NAME=NODE, **master.env(), **d.env())
    agent = procs.spawn([os.path.join(ctx.bin, "kontena-agent"), "run"], env, stderr=os.path.join(work, "agent.log"))
    try:
        if not procs.wait_until(lambda: master.node_online(NODE), 60, 0.05):
            raise RuntimeError(f"failed to bring the runtime agent online: see {work}/agent.log")
        # 1. One pod: image present vs pulled, alternating.
        times = {"present": [], "pulled": []}
        master_times = {"present": [], "pulled": []}
        for i in range(rounds):
            for case in (("present", "pulled") if i % 2 == 0 else ("pulled", "present")):
                if case == "pulled":
                    d.cli("rmi", "--force", image)
                name = f"one{i}{case[:2]}"
                t0 = time.perf_counter()
                master.rest("/v1/grids/bench/stacks", "POST", stack_body(name, image, 1))
                if not procs.wait_until(lambda: running(d, f"{name}.svc-") >= 1, 120, 0.005):
                    raise RuntimeError(f"failed to run stack {name} within 120 s: see {work}/agent.log")
                times[case].append(time.perf_counter() - t0)

                def reported():
                    inst = master.rest(f"/v1/services/bench/{name}/svc")["instances"]
                    return inst and inst[0]["state"] == "running" and inst[0]["rev"] == inst[0]["deploy_rev"]
                procs.wait_until(reported, 60, 0.01)
                master_times[case].append(time.perf_counter() - t0)
                remove_stack(master, d, name)
        # 2. Many pods: deploy, memory with them running, then reconcile passes.
        cpu0 = procs.cpu_seconds(agent.pid)
        t0 = time.perf_counter()
        master.rest("/v1/grids/bench/stacks", "POST", stack_body("many", image, pods))
        if not procs.wait_until(lambda: running(d, "many.svc-") >= pods, 60 + pods * 6, 0.1):
            raise RuntimeError(f"failed to run {pods} pods: {running(d, 'many.svc-')} running; see {work}/agent.log")
        deploy_s = time.perf_counter() - t0
        deploy_cpu = procs.cpu_seconds(agent.pid) - cpu0
        procs.wait_until(lambda: all(i["state"] == "running" for i in
                                     master.rest("/v1/services/bench/many/svc")["instances"]), 60, 0.2)
        mem = procs.memory_kib(agent.pid)
        threads = procs.status(agent.pid)["Threads"]
        passes = 10
        # Baseline: the same span without a pass (keepalives, event stream), then the passes.
        span0 = time.perf_counter()
        c0 = procs.cpu_seconds(agent.pid)
        for _ in range(passes):
            r = master.rest("/v1/_sim/request", "POST", {"node": NODE, "method": "/service_pods/notify_update",
                                                          "params": [[]], "timeout_ms": 10000})
            if r.get("error"):
                raise RuntimeError(f"failed to trigger a reconcile pass: {r['error']}")
            # A pass lists the pods from the master and compares them with Docker: wait until the
            # agent's CPU time stops moving before the next one.
            last = []
            procs.wait_until(lambda: (last.append(procs.cpu_seconds(agent.pid)) or
                                      (len(last) >= 4 and last[-1] == last[-4])), 10, 0.05)
        passes_cpu = procs.cpu_seconds(agent.pid) - c0
        span = time.perf_counter() - span0
        b0 = procs.cpu_seconds(agent.pid)
        time.sleep(min(span, 10))
        base_cpu = (procs.cpu_seconds(agent.pid) - b0) * span / min(span, 10)
        pass_mem = procs.memory_kib(agent.pid)
        remove_stack(master, d, "many", timeout=60 + pods * 3)
    finally:
        procs.stop(agent)
        master.stop()
        imds.stop()
        procs.stop(reg)
        d.stop()
    rows = []
    for case in ("present", "pulled"):
        xs, ys = times[case], master_times[case]
        rows.append([f"image {case}", ms(statistics.median(xs)), ms(min(xs)), ms(max(xs)), ms(statistics.median(ys))])
    per_pass = max(0.0, passes_cpu - base_cpu) / passes
    return {
        "title": title,
        "tables": [(["one pod", "deploy to running median ms", "min ms", "max ms", "master sees running (median ms)"],
                    rows),
                   (["measure", "value"],
                    [["pulled vs present (per-round ratio)", fmt_ratio(ratio(times["pulled"], times["present"]))],
                     [f"deploy of {pods} pods to all running", f"{deploy_s:.1f} s, agent CPU {deploy_cpu:.2f} s"],
                     [f"agent with {pods} pods running: RSS / Private_Dirty",
                      f"{mib(mem['Rss'])} / {mib(mem['Private_Dirty'])} MiB, {threads} threads"],
                     [f"one reconcile pass over {pods} pods (notify_update, nothing to change): agent CPU",
                      f"{per_pass * 1000:.1f} ms ({passes} passes {passes_cpu * 1000:.0f} ms, minus "
                      f"{base_cpu * 1000:.0f} ms idle over the same span; clock tick 10 ms)"],
                     ["Private_Dirty after the passes", f"{mib(pass_mem['Private_Dirty'])} MiB"]])],
        "targets": [],
        "notes": [f"{rounds} round(s) per case, present and pulled alternating. Time from `POST "
                  "/v1/grids/bench/stacks` (the master simulator deploys at once and notifies the node) to "
                  "the container running in `GET /containers/json` (polled every 5 ms), and to the master's "
                  "`service show` with `rev == deploy_rev`. Private dockerd with a bridge of its own "
                  "(knbenchN), vfs storage; the image (busybox-static, about 1 MB) from a loopback "
                  "docker-registry; master `deploy_poll_ms` 20."],
    }
