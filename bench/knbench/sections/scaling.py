"""How cost grows: the label path with 10, 100, 1000 node labels; `kontena-bootstrap apply`
with 1, 10, 100 unit templates."""

import os
import shutil
import statistics

from .. import sims
from ..stats import mib, ms, timed_rusage

TEMPLATE = """[Unit]
Description=bench unit %(i)d of $instance_id in $availability_zone

[Service]
Type=oneshot
Environment=ZONE=$availability_zone REGION=$region
ExecStart=/bin/echo $region $az $availability_zone_id $instance_type $node_labels
"""


def alternate_counts(counts, rounds, fn):
    out = {c: [] for c in counts}
    for i in range(rounds):
        order = counts[i % len(counts):] + counts[:i % len(counts)]
        for c in order:
            out[c].append(fn(c))
    return out


def run(ctx):
    rounds = 3 if ctx.quick else 11
    work = ctx.workdir("scaling")
    styles = sims.imds_write_styles()
    style = "one" if "one" in styles else "two"
    imds = sims.Imds(work, "imds", styles[style])
    agent = os.path.join(ctx.bin, "kontena-agent")
    bootstrap = os.path.join(ctx.bin, "kontena-bootstrap")

    def labels(n):
        extra = " ".join(f"bench.k{i}=v{i}" for i in range(n))
        env = sims.agent_env(imds.url, work, KONTENA_NODE_LABELS=extra)
        secs, rss, cpu, code, out, err = timed_rusage([agent, "labels", "--format", "text"], env)
        if code != 0 or out.count(b"\n") < n:
            raise RuntimeError(f"failed to derive {n} labels: exit {code}: {err.decode().strip()[-300:]}")
        return secs, rss, cpu

    def apply(n):
        root = os.path.join(work, f"root-{n}")
        shutil.rmtree(root, ignore_errors=True)
        tdir = os.path.join(root, "etc", "kontena", "templates")
        os.makedirs(tdir)
        for i in range(n):
            with open(os.path.join(tdir, f"bench-{i}.service"), "w") as f:
                f.write(TEMPLATE % {"i": i})
        env = sims.agent_env(imds.url, work)
        secs, rss, cpu, code, out, err = timed_rusage([bootstrap, "apply", "--root", root], env)
        written = len(os.listdir(os.path.join(root, "run", "systemd", "system"))) if code == 0 else 0
        if code != 0 or written < n:
            raise RuntimeError(f"failed to apply {n} templates: exit {code}, {written} written: "
                               f"{err.decode().strip()[-300:]}")
        return secs, rss, cpu

    try:
        lab = alternate_counts([10, 100, 1000], rounds, labels)
        app = alternate_counts([1, 10, 100], rounds, apply)
    finally:
        imds.stop()

    def rows(results, base_key):
        base = results[base_key]
        out = []
        for c, xs in results.items():
            t = [x[0] for x in xs]
            ratios = [x[0] / b[0] for x, b in zip(xs, base)]
            out.append([str(c), ms(statistics.median(t)), ms(min(t)), ms(max(t)),
                        f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f})",
                        ms(statistics.median(x[2] for x in xs)), mib(statistics.median(x[1] for x in xs))])
        return out

    head = ["median ms", "min ms", "max ms", "vs smallest", "CPU ms", "peak RSS MiB"]
    return {
        "title": "How cost grows",
        "tables": [(["node labels (`KONTENA_NODE_LABELS`)"] + head, rows(lab, 10)),
                   (["templates (`kontena-bootstrap apply --root`)"] + head, rows(app, 1))],
        "targets": [],
        "notes": [f"{rounds} rounds, sizes alternating; IMDS simulator with {style}-write answers, no latency. "
                  "`labels --format text` with N extra labels; `apply` into a fresh `--root` each run (metadata.env, "
                  "daemon.json labels, N rendered units; no daemon-reload, no Docker reload under --root). Peak "
                  "RSS and CPU (10 ms resolution) of each child from `busybox time -v`."],
    }
