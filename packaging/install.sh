#!/bin/sh
# install.sh: installs kontena-node from this unpacked tarball into /opt/kontena-node and its
# units into /etc/systemd/system; `--uninstall` removes both. Idempotent: a second run leaves
# the same tree. POSIX sh (Container Linux and Flatcar have no bash-only guarantees for root
# scripts run from user-data).
#
#   ./install.sh [--root DIR]              install (DIR: an image or a test tree; default /)
#   ./install.sh [--root DIR] --uninstall  remove what install.sh put there
#
# The units are installed, not enabled: the rendered user-data (or you) enables them.
set -eu

prog=install.sh
die() {
  echo "$prog: $*" >&2
  exit 1
}

root=/
action=install
while [ $# -gt 0 ]; do
  case $1 in
    --root) [ $# -ge 2 ] || die "failed to read --root: it needs a directory (--root DIR)"; root=$2; shift 2 ;;
    --root=*) root=${1#--root=}; shift ;;
    --uninstall) action=uninstall; shift ;;
    -h|--help) sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) die "failed to read the arguments: unknown argument '$1' (use --root DIR, --uninstall, --help)" ;;
  esac
done
[ -d "$root" ] || die "failed to use --root $root: no such directory (create it first)"
root=$(cd "$root" && pwd)
[ "$root" = / ] && root=

src=$(cd "$(dirname "$0")" && pwd)
prefix=$root/opt/kontena-node
unitdir=$root/etc/systemd/system
confdir=$root/etc/kontena
units="kontena-bootstrap.service kontena-agent.service"

# systemd picks up changed unit files only after a daemon-reload; only for the running system.
reload_systemd() {
  if [ -z "$root" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    systemctl daemon-reload || echo "$prog: warning: systemctl daemon-reload failed; run it by hand" >&2
  fi
}

# Replaces $2 by $1 through a temporary file and rename(2), so a unit or a running binary is
# never seen half-written.
put_file() {
  cp "$1" "$2.kn-new" || die "failed to write $2: cannot copy $1 (is the file system writable?)"
  chmod "$3" "$2.kn-new"
  mv -f "$2.kn-new" "$2" || die "failed to write $2: rename failed"
}

install_all() {
  for f in bin/kontena-agent bin/kontena-bootstrap etc/agent.yml systemd/kontena-agent.service; do
    [ -f "$src/$f" ] || die "failed to install kontena-node: $src/$f is missing (run install.sh from the unpacked tarball)"
  done
  # /opt/kontena-node is replaced as a whole: build the new tree next to it, then swap, so
  # libraries of an older version never mix with the new binaries.
  new=$prefix.kn-new
  old=$prefix.kn-old
  rm -rf "$new" "$old"
  mkdir -p "$new" || die "failed to create $new: is $root/opt writable?"
  for d in bin lib systemd examples etc; do
    cp -R "$src/$d" "$new/$d" || die "failed to copy $src/$d into $new"
  done
  cp "$src/VERSION" "$src/install.sh" "$new/" || die "failed to copy VERSION and install.sh into $new"
  chmod -R u=rwX,go=rX "$new"
  if [ -e "$prefix" ]; then
    mv "$prefix" "$old" || die "failed to move the old $prefix aside"
  fi
  mv "$new" "$prefix" || die "failed to move $new to $prefix"
  rm -rf "$old"

  mkdir -p "$unitdir" || die "failed to create $unitdir"
  for u in $units; do
    put_file "$prefix/systemd/$u" "$unitdir/$u" 0644
  done
  # The default configuration, only where none exists (never overwrite the operator's).
  if [ ! -e "$confdir/agent.yml" ]; then
    mkdir -p "$confdir" || die "failed to create $confdir"
    put_file "$prefix/etc/agent.yml" "$confdir/agent.yml" 0644
  fi
  reload_systemd
  echo "$prog: installed kontena-node $(cat "$prefix/VERSION") into ${root:-/}opt/kontena-node; units in $unitdir (enable them: systemctl enable --now kontena-bootstrap.service kontena-agent.service)"
}

uninstall_all() {
  if [ -z "$root" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    # shellcheck disable=SC2086 # two fixed unit names, split on purpose
    systemctl disable --now $units 2>/dev/null || true
  fi
  # Enablement links (multi-user.target.wants/, docker.service.wants/) that point at our units.
  for w in "$unitdir"/*.wants; do
    [ -d "$w" ] || continue
    removed=
    for u in $units; do
      if [ -L "$w/$u" ]; then rm -f "$w/$u"; removed=1; fi
    done
    [ -n "$removed" ] && { rmdir "$w" 2>/dev/null || true; }
  done
  # The default configuration goes only while it is still the shipped one.
  if [ -f "$confdir/agent.yml" ] && [ -f "$prefix/etc/agent.yml" ] &&
     cmp -s "$confdir/agent.yml" "$prefix/etc/agent.yml"; then
    rm -f "$confdir/agent.yml"
    rmdir "$confdir" 2>/dev/null || true
  fi
  for u in $units; do
    if [ -f "$unitdir/$u" ]; then
      # Only our copy: a unit whose ExecStart is elsewhere belongs to something else.
      if grep -q '^ExecStart=/opt/kontena-node/bin/' "$unitdir/$u"; then
        rm -f "$unitdir/$u"
      else
        echo "$prog: warning: kept $unitdir/$u: it does not run /opt/kontena-node/bin (not installed by install.sh)" >&2
      fi
    fi
  done
  rm -rf "$prefix" "$prefix.kn-new" "$prefix.kn-old"
  reload_systemd
  echo "$prog: removed kontena-node from ${root:-/}opt/kontena-node and its units from $unitdir"
}

case $action in
  install) install_all ;;
  uninstall) uninstall_all ;;
esac
