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


def ec2_metadata_copy(work, url, name):
    """Debian's ec2-metadata (amazon-ec2-utils) with its base URL rewritten to the simulator."""
    src = "/usr/bin/ec2-metadata"
    if not os.path.exists(src):
        return None
    text = open(src).read().replace("http://169.254.169.254", url)
    if "169.254.169.254" in text:
        raise RuntimeError("failed to rewrite ec2-metadata's base URL: 169.254.169.254 still in the copy")
    dst = os.path.join(work, name)
    with open(dst, "w") as f:
        f.write(text)
    os.chmod(dst, stat.S_IRWXU)
    return dst


# Round trips are counted in a pass of their own against a simulator that answers after 20 ms:
# a client that waits for an answer leaves a gap of 20 ms or more, while the simulator's own
# accept and thread scheduling (Python) can space requests sent together by a few ms, which at
# the timed runs' 1 ms looked like extra round trips.
COUNT_LATENCY_MS = 20


def round_trips(log, latency_s):
    """Request waves: a request opens a new wave when it arrives at least one simulated latency
    after the first request of the current wave (it could have waited for that answer)."""
    waves, start = 0, None
    for r in sorted(log, key=lambda r: r["t"]):
        if start is None or r["t"] - start >= latency_s:
            waves, start = waves + 1, r["t"]
    return waves


def commands(work, url, agent, tag):
    """{name: (argv, env, check of stdout)}: the three ways to the same four answers."""
    cmds = {"kontena-agent labels": ([agent, "labels", "--format", "text"], sims.agent_env(url, work),
                                     lambda out: "availability-zone=" in out),
            "curl pipeline": (["bash", "-c", CURL_PIPELINE], dict(sims.base_env(), U=url),
                              lambda out: "availabilityZone" in out)}
    ec2 = ec2_metadata_copy(work, url, f"ec2-metadata-{tag}")
    if ec2:
        cmds["ec2-metadata -z -i -t"] = ([ec2, "-z", "-i", "-t"], sims.base_env(), lambda out: "placement:" in out)
    return cmds


def checked_run(name, argv, env, check):
    secs, r = timed_run(argv, env)
    if r.returncode != 0 or not check(r.stdout.decode()):
        raise RuntimeError(f"failed to run the {name} boot path: exit {r.returncode}: "
                           f"{r.stderr.decode().strip()[-300:]}")
    return secs


def run(ctx):
    rounds = 7 if ctx.quick else 21
    count_rounds = 3 if ctx.quick else 5
    latency_args = ["--latency-ms", "1"] if sims.imds_supports("--latency-ms") else []
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

        def variant(name, argv, env, check):
            return lambda: checked_run(name, argv, env, check)

        times = alternate({name: variant(name, *c) for name, c in commands(work, imds.url, agent, "timed").items()},
                          rounds)
        imds.stop()

        counts = {}
        slow = sims.Imds(work, f"imds-{style}-count", styles[style] + ["--latency-ms", str(COUNT_LATENCY_MS)])
        for name, (argv, env, check) in commands(work, slow.url, agent, "count").items():
            for _ in range(count_rounds):
                slow.clear_log()
                checked_run(name, argv, env, check)
                log = slow.requests()
                counts.setdefault(name, []).append((len(log), round_trips(log, COUNT_LATENCY_MS / 1000)))
        slow.stop()

        a = times["kontena-agent labels"]
        for name, xs in times.items():
            reqs = sorted(set(c[0] for c in counts[name]))
            rts = sorted(set(c[1] for c in counts[name]))
            rel = "1" if name.startswith("kontena-agent") else fmt_ratio(ratio(xs, a))
            rows.append([f"{style}-write", name, ms(med(xs)), ms(min(xs)), ms(max(xs)), rel,
                         "/".join(map(str, reqs)), "/".join(map(str, rts))])
        agent_reqs = set(c[0] for c in counts["kontena-agent labels"])
        agent_rts = set(c[1] for c in counts["kontena-agent labels"])
        if "ec2-metadata -z -i -t" in times:
            r = ratio(times["ec2-metadata -z -i -t"], a)
            targets.append([f"{style}-write: >= 3x faster than ec2-metadata", fmt_ratio(r), verdict(r[0] >= 3)])
        r = ratio(times["curl pipeline"], a)
        targets.append([f"{style}-write: >= 4x faster than the curl pipeline", fmt_ratio(r), verdict(r[0] >= 4)])
        targets.append([f"{style}-write: 4 requests", "/".join(map(str, sorted(agent_reqs))), verdict(agent_reqs == {4})])
        targets.append([f"{style}-write: 2 round trips", "/".join(map(str, sorted(agent_rts))),
                        verdict(agent_rts == {2})])
    notes.append(f"{rounds} rounds, variants alternating (order rotated each round); simulator latency "
                 f"{'1 ms per request' if latency_args else 'none (no --latency-ms)'}. Requests and round "
                 f"trips: {count_rounds} more runs of each against a simulator that answers after "
                 f"{COUNT_LATENCY_MS} ms; a request that arrives {COUNT_LATENCY_MS} ms or more after the first "
                 "of the current wave of requests opens a new round trip (it could have waited for an answer). "
                 "\"vs agent\": per-round time ratio to `kontena-agent labels`, median (min-max).")
    return {
        "title": "Boot path: process start to labels printed",
        "tables": [(["simulator", "command", "median ms", "min ms", "max ms", "vs agent", "requests", "round trips"],
                    rows)],
        "targets": targets,
        "notes": notes,
    }
