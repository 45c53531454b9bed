#!/bin/sh
# Installs the kontena-node release tarball ($KONTENA_NODE_URL, SHA-512 $KONTENA_NODE_SHA512)
# into /opt/kontena-node; run by kontena-node-install.service. Idempotent: when the installed
# tree came from a tarball with the same hash, nothing is fetched. The new tree is unpacked
# next to the old one and swapped in with rename(2), so a failed run leaves the old one whole.
set -eu
# KONTENA_NODE_PREFIX: for tests of this script only (tests/bootstrap/bootstrap_cli_test.cpp).
dest=${KONTENA_NODE_PREFIX:-/opt/kontena-node}
: "${KONTENA_NODE_URL:?set in /etc/kontena/artifact.env}" "${KONTENA_NODE_SHA512:?set in /etc/kontena/artifact.env}"

if [ -x "$dest/bin/kontena-agent" ] && [ "$(cat "$dest/.sha512" 2>/dev/null)" = "$KONTENA_NODE_SHA512" ]; then
  echo "kontena-node: $dest is installed from this tarball (SHA-512 matches); nothing to do"
  exit 0
fi

mkdir -p "$(dirname "$dest")"
work=$(mktemp -d "$(dirname "$dest")/.kontena-node-install.XXXXXX")  # same file system: mv is a rename
trap 'rm -rf "$work"' EXIT
echo "kontena-node: fetching $KONTENA_NODE_URL"
curl --fail --silent --show-error --location --connect-timeout 10 --max-time 120 \
  --retry 8 --retry-delay 5 --retry-all-errors -o "$work/kontena-node.tar.gz" "$KONTENA_NODE_URL"
if ! echo "$KONTENA_NODE_SHA512  $work/kontena-node.tar.gz" | sha512sum -c --status -; then
  echo "kontena-node: failed to verify $KONTENA_NODE_URL: its SHA-512 is not the one in /etc/kontena/artifact.env; render the user-data again with the release's sha512" >&2
  exit 1
fi
mkdir "$work/tree"
# The tarball's top folder is kontena-node-VERSION/.
tar -xzf "$work/kontena-node.tar.gz" -C "$work/tree" --strip-components=1 --no-same-owner
echo "$KONTENA_NODE_SHA512" >"$work/tree/.sha512"
if [ -e "$dest" ]; then mv "$dest" "$work/old"; fi
mv "$work/tree" "$dest"
echo "kontena-node: installed $("$dest/bin/kontena-agent" --version 2>/dev/null || echo "$dest") into $dest"
