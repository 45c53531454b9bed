#!/usr/bin/env python3
"""Fails if a secret the test suite used appears in an argv or a log the suite recorded.

The test support code (tests/support/record.hpp) writes, per test process, <pid>.argv (every
spawned argv), <pid>.log (every spawned process's stdout and stderr) and <pid>.secrets (the
tokens and passwords fixtures generated). --known adds the secrets the tests write literally.
A finding is printed as "<file>:<line>: holds secret 'abc...' (N chars)", never the whole secret.

Usage: scripts/scan-secrets.py --records build/test-records --known tests/security/known-secrets.txt
       scripts/scan-secrets.py --self-test   (plants a secret and checks that the scan fails)
Exit: 0 clean, 1 a secret leaked (or the self-test failed), 2 bad usage.
"""
import argparse
import pathlib
import sys
import tempfile


def load_secrets(records, known):
    secrets = set()
    files = list(records.glob("*.secrets")) + ([known] if known else [])
    for f in files:
        for line in f.read_text(errors="replace").splitlines():
            line = line.strip()
            if len(line) >= 6 and not line.startswith("#"):
                secrets.add(line)
    return secrets


def scan(records, known, out=sys.stdout):
    if not records.is_dir():
        print(f"scan-secrets: nothing recorded under {records} (no test spawned a process)", file=out)
        return 0
    secrets = load_secrets(records, known)
    findings = 0
    files = sorted(list(records.glob("*.argv")) + list(records.glob("*.log")))
    for f in files:
        for number, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
            for s in secrets:
                if s in line:
                    findings += 1
                    print(f"{f}:{number}: holds secret '{s[:3]}...' ({len(s)} chars)", file=out)
    print(f"scan-secrets: {len(files)} record files, {len(secrets)} secrets, {findings} leaks", file=out)
    return 1 if findings else 0


def self_test():
    """The scan must fail on a secret planted in an argv record, in a log record, and on a
    known secret; and pass on clean records."""
    planted = "planted-secret-Qx7"
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        cases = {
            "argv": {"1.secrets": planted + "\n", "1.argv": f"/bin/agent --token {planted}\n"},
            "log": {"1.secrets": planted + "\n", "1.argv": "/bin/agent run\n", "1.log": f"== agent stderr\njoined with {planted}\n"},
            "known": {"1.argv": "/bin/agent run\n", "1.log": "token=known-literal-42\n", "known": "known-literal-42\n"},
            "clean": {"1.secrets": planted + "\n", "1.argv": "/bin/agent run\n", "1.log": "joined with ***\n"},
        }
        for name, files in cases.items():
            d = pathlib.Path(tmp) / name
            d.mkdir()
            for fname, text in files.items():
                (d / fname).write_text(text)
            known = d / "known" if "known" in files else None
            sink = open("/dev/null", "w")
            rc = scan(d, known, out=sink)
            want = 0 if name == "clean" else 1
            status = "ok" if rc == want else "FAILED"
            print(f"self-test {name}: exit {rc}, want {want}: {status}")
            ok = ok and rc == want
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=pathlib.Path)
    ap.add_argument("--known", type=pathlib.Path)
    ap.add_argument("--self-test", action="store_true")
    args = ap.parse_args()
    if args.self_test:
        return self_test()
    if not args.records:
        ap.print_usage()
        return 2
    return scan(args.records, args.known)


if __name__ == "__main__":
    sys.exit(main())
