#!/usr/bin/env python3
"""`systemd-analyze security --offline=yes` keeps kontena-agent.service at 2.5 or better.

Also checks that the check can fail: the same unit without its sandbox block must score worse
than 2.5 (otherwise the parse or the tool changed and the first check proves nothing).
Usage: unit_exposure.py systemd/kontena-agent.service [--limit 2.5]
"""
import argparse
import pathlib
import re
import subprocess
import sys
import tempfile

LEVEL = re.compile(r"Overall exposure level for \S+: (\d+\.\d+)")


def exposure(unit):
    r = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--no-pager", str(unit)],
                       capture_output=True, text=True, timeout=120)
    m = LEVEL.search(r.stdout + r.stderr)
    if not m:
        sys.exit(f"failed to read the exposure level of {unit}: systemd-analyze said:\n{r.stdout}{r.stderr}")
    return float(m.group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("unit", type=pathlib.Path)
    ap.add_argument("--limit", type=float, default=2.5)
    args = ap.parse_args()
    level = exposure(args.unit)
    print(f"{args.unit.name}: exposure {level} (limit {args.limit})")
    with tempfile.TemporaryDirectory() as tmp:
        bare = pathlib.Path(tmp) / args.unit.name
        text = args.unit.read_text()
        bare.write_text(text.split("# Sandbox")[0] + "\n[Install]\nWantedBy=multi-user.target\n")
        bare_level = exposure(bare)
        print(f"{args.unit.name} without its sandbox: exposure {bare_level}")
    if bare_level <= args.limit:
        print("failed to prove the check can fail: the unit without its sandbox scores within the limit")
        return 1
    if level > args.limit:
        print(f"failed to keep {args.unit.name} at {args.limit} or better: {level}; "
              f"see `systemd-analyze security --offline=yes {args.unit}` for the directives that cost most")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
