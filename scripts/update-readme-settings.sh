#!/usr/bin/env bash
# Regenerates the README's settings table from the option table (agent/core/settings.cpp).
set -euo pipefail
cd "$(dirname "$0")/.."
table=$(build/bin/kontena-agent --print-settings-table)
TABLE="$table" /usr/bin/python3 - <<'PY'
import os, re
path = "README.md"
text = open(path).read()
begin, end = "<!-- settings-table:begin -->\n", "<!-- settings-table:end -->"
new = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda m: begin + os.environ["TABLE"] + "\n" + end, text, flags=re.S)
open(path, "w").write(new)
PY
