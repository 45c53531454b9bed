#!/usr/bin/env python3
"""Checks the layer rules of README.md ("Layout") against the build's link graph and the code.

Three checks, each failure printed as one line naming the file or target and the rule:
  1. every folder of agent/ (and bootstrap/) has a row in the README's layer table;
  2. a target links (directly or through others) only the layers its row allows;
  3. a source file includes project headers only from its own folder or from a folder whose
     target its own target links, so a lower layer cannot reach a higher one.

The link graph comes from <build>/link-graph.txt, written by the top-level CMakeLists.txt.
Usage: scripts/check-layers.py --source . --build build      (exit 0: rules hold; 1: violations)
"""
import argparse
import pathlib
import re
import sys

TABLE_ROW = re.compile(r"^\|\s*`(?P<folder>[\w/]+)`\s*\|\s*`(?P<target>kn_\w+)`\s*\|(?P<uses>[^|]*)\|")
INCLUDE = re.compile(r'^\s*#\s*include\s+"(?P<path>[^"]+)"', re.M)


def read_table(readme):
    """folder -> (target, set of allowed folders) from the README's layer table."""
    rows = {}
    for line in readme.read_text().splitlines():
        m = TABLE_ROW.match(line)
        if not m:
            continue
        uses = set(re.findall(r"`([\w/]+)`", m["uses"]))
        rows[m["folder"]] = (m["target"], uses)
    return rows


def read_graph(path):
    """target -> (folder, direct kn_* dependencies)."""
    graph = {}
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        target, folder, deps = line.split("|")
        graph[target] = (folder, [d for d in deps.split(",") if d])
    return graph


def closure(graph, target):
    seen, todo = set(), list(graph.get(target, ("", []))[1])
    while todo:
        t = todo.pop()
        if t in seen:
            continue
        seen.add(t)
        todo.extend(graph.get(t, ("", []))[1])
    return seen


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--source", default=".", type=pathlib.Path)
    ap.add_argument("--build", default="build", type=pathlib.Path)
    args = ap.parse_args()
    src = args.source.resolve()
    table = read_table(src / "README.md")
    graph = read_graph(args.build / "link-graph.txt")
    if not table:
        print("check-layers: no layer table found in README.md (rows like | `agent/core` | `kn_core` | ... |)")
        return 1
    target_of = {folder: target for folder, (target, _) in table.items()}
    folder_of = {target: folder for folder, target in target_of.items()}
    errors = []

    # 1. Every code folder declares its layer.
    code_dirs = {p.parent.relative_to(src).as_posix()
                 for root in ("agent", "bootstrap") for p in (src / root).rglob("*.[ch]pp")}
    code_dirs.discard("agent")  # agent/main.cpp: the kontena-agent executable, above every layer
    for d in sorted(code_dirs - set(table)):
        errors.append(f"{d}: folder has no row in README.md's layer table (add its target and the layers it may use)")

    # 2. The link graph stays within each row's allowed layers.
    for folder, (target, uses) in sorted(table.items()):
        if target not in graph:
            if (src / folder).is_dir() and any((src / folder).glob("*.cpp")):
                errors.append(f"{folder}: no CMake target {target} (declare it in {folder}/CMakeLists.txt)")
            continue
        declared_in = graph[target][0]
        if declared_in != folder:
            errors.append(f"{target}: declared in {declared_in}/CMakeLists.txt, not in its own folder {folder}")
        for dep in sorted(closure(graph, target)):
            dep_folder = folder_of.get(dep)
            if dep_folder is None:
                continue  # test helpers, generated code: not layers
            if dep_folder not in uses:
                errors.append(f"{target} ({folder}) links {dep} ({dep_folder}), which its layer may not use")

    # 3. Includes follow the link graph.
    for folder, (target, _) in sorted(table.items()):
        reachable = {folder_of[t] for t in closure(graph, target) if t in folder_of} | {folder}
        for path in sorted((src / folder).glob("*.[ch]pp")):
            text = path.read_text(errors="replace")
            for m in INCLUDE.finditer(text):
                inc = m["path"]
                inc_folder = next((f for f in sorted(table, key=len, reverse=True)
                                   if inc.startswith(f.removeprefix("agent/") + "/") or inc.startswith(f + "/")),
                                  None)
                if inc_folder is None or inc_folder in reachable:
                    continue
                line = text.count("\n", 0, m.start()) + 1
                errors.append(f"{path.relative_to(src)}:{line}: includes \"{inc}\" from {inc_folder} "
                              f"({target_of[inc_folder]}), which {target} does not link (upward or sideways reach)")

    for e in errors:
        print("layering violation:", e)
    if errors:
        return 1
    print(f"layering ok: {len(table)} layers, {sum(1 for _ in graph)} targets checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
