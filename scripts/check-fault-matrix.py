#!/usr/bin/env python3
"""Checks that every row of docs/fault-matrix.md names a test that ctest runs.

Each table row ends in a `test` column holding ctest names in backticks (binary:case, as
catch_discover_tests registers it; several separated by commas), or "same test ..." for the
tests of the row above. A name ctest does not know (a renamed or deleted test case, a typo)
fails the check, one line per name, so the table cannot claim what no test runs; so does a
row that names no test at all.
Usage: scripts/check-fault-matrix.py --source . --build build     (exit 0: every name runs)
"""
import argparse
import pathlib
import re
import subprocess
import sys

ROW = re.compile(r"^\|(?P<cells>.*)\|\s*$")


def matrix_tests(doc):
    """(line number, test name) for each test a table row of `doc` names, header and rule rows
    skipped; a row naming none yields its cell as the name, which no ctest has."""
    out = []
    previous = []
    for number, line in enumerate(doc.read_text().splitlines(), 1):
        m = ROW.match(line)
        if not m:
            continue
        cells = [c.strip() for c in m["cells"].split("|")]
        last = cells[-1]
        if last in ("test", "") or set(last) <= set("-: "):
            continue
        names = re.findall(r"`([^`]+)`", last)
        if not names and last.startswith("same") and previous:
            names = previous
        previous = names
        out.extend((number, name) for name in (names or [last]))
    return out


def ctest_names(build):
    listing = subprocess.run(["ctest", "--test-dir", str(build), "-N"], capture_output=True, text=True, check=True)
    return {m[1] for m in re.finditer(r"^\s*Test\s+#\d+: (.+?)\s*$", listing.stdout, re.M)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=pathlib.Path, required=True)
    parser.add_argument("--build", type=pathlib.Path, required=True)
    args = parser.parse_args()
    doc = args.source / "docs" / "fault-matrix.md"
    rows = matrix_tests(doc)
    known = ctest_names(args.build)
    missing = [(n, name) for n, name in rows if name not in known]
    for n, name in missing:
        print(f"{doc}:{n}: no ctest named '{name}' (fix the name in the table, or the test case)")
    print(f"{len(rows)} test names in the fault matrix, {len(rows) - len(missing)} of them ctests")
    return 1 if missing or not rows else 0


if __name__ == "__main__":
    sys.exit(main())
