#!/usr/bin/env bash
# Prepares the Debian 12 guest of scripts/boot-test.sh: a debootstrap root file system with
# systemd, dbus, docker.io, curl, python3 and a kernel (linux-image-cloud-amd64), plus the
# kernel and initrd next to it. Nothing of kontena-node goes in here: the rendered Ignition
# config installs it (scripts/boot-test.sh). Cached in the build tree, keyed by the package
# list, so only the first run pays for it (about 6 minutes; the recipe: debootstrap(8)).
#
#   scripts/boot-rootfs.sh BUILD_DIR      prints the cache directory on its last line
#
# Safe to start twice at once (.ci/run starts it in the background, ctest may run it too):
# the second waits on the first's lock.
set -euo pipefail

build=${1:?usage: scripts/boot-rootfs.sh BUILD_DIR}
mirror=${KN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
include=systemd,dbus,docker.io,curl,python3,ca-certificates,iproute2,kmod,udev
kernel=linux-image-cloud-amd64

key=$(printf '%s\n' "$suite" "$include" "$kernel" "v1" | sha256sum | cut -c1-12)
cache=$(realpath -m "$build/boot-rootfs/$key")
mkdir -p "$(dirname "$cache")"

exec 9>"$cache.lock"
flock 9
if [[ -f $cache/ready ]]; then
  echo "$cache"
  exit 0
fi

# A run killed while /proc, /sys and /dev were bind-mounted into the root leaves them there:
# unmount them before deleting, and never let rm cross into another file system.
{ findmnt -rn -o TARGET | grep -F "$cache/" || true; } | sort -r | while read -r m; do umount -l "$m" || true; done
rm -rf --one-file-system "$cache"
mkdir -p "$cache"
root=$cache/root
mounted=()
cleanup() {
  local m
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[i]}" 2>/dev/null || true; done
}
trap cleanup EXIT

started=$SECONDS
echo "boot-rootfs: debootstrap $suite ($include) into $root" >&2
debootstrap --variant=minbase --include="$include" "$suite" "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
  { tail -n 20 "$cache/debootstrap.log" >&2; echo "boot-rootfs: failed to debootstrap $suite from $mirror (set KN_DEBIAN_MIRROR)" >&2; exit 1; }
echo "boot-rootfs: debootstrap took $((SECONDS - started)) s" >&2

kstarted=$SECONDS
for m in proc sys dev; do
  mount --bind "/$m" "$root/$m"
  mounted+=("$root/$m")
done
chroot "$root" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$kernel" \
  initramfs-tools >"$cache/kernel.log" 2>&1 ||
  { tail -n 20 "$cache/kernel.log" >&2; echo "boot-rootfs: failed to install $kernel in the guest root" >&2; exit 1; }
chroot "$root" apt-get clean
cleanup
mounted=()
echo "boot-rootfs: kernel took $((SECONDS - kstarted)) s" >&2

cp "$(ls "$root"/boot/vmlinuz-* | tail -n 1)" "$cache/vmlinuz"
cp "$(ls "$root"/boot/initrd.img-* | tail -n 1)" "$cache/initrd.img"
echo 'kn-guest' >"$root/etc/hostname"
echo '/dev/vda / ext4 defaults 0 1' >"$root/etc/fstab"
touch "$cache/ready"
echo "boot-rootfs: ready in $((SECONDS - started)) s" >&2
echo "$cache"
