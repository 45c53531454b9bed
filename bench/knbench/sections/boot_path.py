"""Boot path: process start to labels printed, against the IMDS simulator's write styles,
next to Debian's ec2-metadata and a plain curl pipeline (the same four requests)."""

import os
import stat

from .. import sims
from ..stats import alternate, fmt_ratio, med, ms, ratio, timed_run, verdict

# What the label set reads (agent/imds/placement_reader.cpp): the token, then three keys.
KEYS = ["dynamic/instance-identity/document", "meta-data/placement/availability-zone-id",
        "meta-data/instance-life-cycle"]

# The token goes to curl on stdin (`-H @-`), never in argv.
CURL_PIPELINE = r'''
set -e
t=$(curl -sf -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 21600" "$U/latest/api/token")
for k in %s; do printf 'X-aws-ec2-metadata-token: %%s\n' "$t" | curl -sf -H @- "$U/latest/$k"; echo; done
''' % " ".join(KEYS)


def ec2_metadata_copy(work, url):
    """Debian's ec2-metadata (amazon-ec2-utils) with its base URL rewritten to the simulator."""
    src = "/usr/bin/ec2-metadata"
    if not os.path.exists(src):
        return None
    text = open(src).read().replace("http://169.254.169.254", url)
    if "169.254.169.254" in text:
        raise RuntimeError("failed to rewrite ec2-metadata's base URL: 169.254.169.254 still in the copy")
    dst = os.path.join(work, "ec2-metadata")
    with open(dst, "w") as f:
        f.write(text)
    os.chmod(dst, stat.S_IRWXU)
    return dst


def round_trips(log, latency_s):
    """Request waves: a request opens a new wave when it arrives at least one simulated latency
    after the first request of the current wave (it could have waited for that answer)."""
    waves, start = 0, None
    for r in sorted(log, key=lambda r: r["t"]):
        if start is None or r["t"] - start >= latency_s:
            waves, start = waves + 1, r["t"]
    return waves


def run(ctx):
    rounds = 7 if ctx.quick else 21
    latency_args = ["--latency-ms", "1"] if sims.imds_supports("--latency-ms") else []
    latency_s = 0.001 if latency_args else 0.0
    styles = sims.imds_write_styles()
    agent = os.path.join(ctx.bin, "kontena-agent")
    rows, targets, notes = [], [], []
    if "one" not in styles:
        notes.append("This simulator has no one-write switch (`imds_sim.py --help`): only its default "
                     "two-write answers are measured.")
    for style in ("two", "one"):
        if style not in styles:
            continue
        work = ctx.workdir(f"boot-{style}")
        imds = sims.Imds(work, f"imds-{style}", styles[style] + latency_args)
        env = sims.agent_env(imds.url, work)
        ec2 = ec2_metadata_copy(work, imds.url)
        curl_env = dict(sims.base_env(), U=imds.url)
        counts = {}

        def variant(name, argv, e, check):
            def go():
                imds.clear_log()
                secs, r = timed_run(argv, e)
                if r.returncode != 0 or not check(r.stdout.decode()):
                    raise RuntimeError(f"failed to run the {name} boot path: exit {r.returncode}: "
                                       f"{r.stderr.decode().strip()[-300:]}")
                log = imds.requests()
                counts.setdefault(name, []).append((len(log), round_trips(log, latency_s)))
                return secs
            return go

        variants = {"kontena-agent labels": variant("kontena-agent", [agent, "labels", "--format", "text"], env,
                                                     lambda out: "availability-zone=" in out),
                    "curl pipeline": variant("curl pipeline", ["bash", "-c", CURL_PIPELINE], curl_env,
                                             lambda out: "availabilityZone" in out)}
        if ec2:
            variants["ec2-metadata -z -i -t"] = variant("ec2-metadata", [ec2, "-z", "-i", "-t"], sims.base_env(),
                                                        lambda out: "placement:" in out)
        times = alternate(variants, rounds)
        imds.stop()
        a = times["kontena-agent labels"]
        for name, xs in times.items():
            key = name.split(" labels")[0].split(" -z")[0]
            reqs = sorted(set(c[0] for c in counts[key]))
            rts = sorted(set(c[1] for c in counts[key]))
            rel = "1" if name.startswith("kontena-agent") else fmt_ratio(ratio(xs, a))
            rows.append([f"{style}-write", name, ms(med(xs)), ms(min(xs)), ms(max(xs)), rel,
                         "/".join(map(str, reqs)), "/".join(map(str, rts))])
        agent_reqs = set(c[0] for c in counts["kontena-agent"])
        agent_rts = set(c[1] for c in counts["kontena-agent"])
        if ec2:
            r = ratio(times["ec2-metadata -z -i -t"], a)
            targets.append([f"{style}-write: >= 3x faster than ec2-metadata", fmt_ratio(r), verdict(r[0] >= 3)])
        r = ratio(times["curl pipeline"], a)
        targets.append([f"{style}-write: >= 4x faster than the curl pipeline", fmt_ratio(r), verdict(r[0] >= 4)])
        targets.append([f"{style}-write: 4 requests", "/".join(map(str, sorted(agent_reqs))), verdict(agent_reqs == {4})])
        targets.append([f"{style}-write: 2 round trips", "/".join(map(str, sorted(agent_rts))),
                        verdict(agent_rts == {2})])
    notes.append(f"{rounds} rounds, variants alternating (order rotated each round); simulator latency "
                 f"{'1 ms per request' if latency_s else 'none (no --latency-ms)'}. Round trips: request waves "
                 "in the simulator's log (a request that arrives one latency or more after the first of the "
                 "current wave opens a new one). \"vs agent\": per-round time ratio to `kontena-agent labels`, "
                 "median (min-max).")
    return {
        "title": "Boot path: process start to labels printed",
        "tables": [(["simulator", "command", "median ms", "min ms", "max ms", "vs agent", "requests", "round trips"],
                    rows)],
        "targets": targets,
        "notes": notes,
    }
