#!/usr/bin/env bash
# The real systemd boot test: a Debian 12 guest (scripts/boot-rootfs.sh, nothing of
# kontena-node in it) gets the user-data `kontena-bootstrap render --format ignition` makes,
# applied to its root by Debian's ignition binary (stages fetch and files, platform file; the
# sysext image served from a loopback HTTP server on this host), boots under
# qemu-system-x86_64 -accel tcg with no network route out, and checks itself from inside
# (tests/boot/guest-check.sh), reporting marker lines over the serial console.
#
#   scripts/boot-test.sh BUILD_DIR        BUILD_DIR/bin: kontena-bootstrap, kontena-agent,
#                                         kontena-master-sim; exit 0 pass, 1 fail, 77 skipped
#
# The sysext image: BUILD_DIR/artifact/kontena-node-*-x86-64.raw (CMake target `artifact`,
# built here if it is out of date).
# KN_BOOT_CACHE: a directory whose boot-rootfs/ caches the guest root (default BUILD_DIR), so
# several build trees can share one. KN_BOOT_KEEP=1 keeps the work directory (it holds the grid
# token of the run, mode 0700).
# KN_BOOT_TIMEOUT: seconds the guest may run (default 1500).
set -euo pipefail
started=$SECONDS
source_dir=$(cd "$(dirname "$0")/.." && pwd)
build=$(realpath "${1:?usage: scripts/boot-test.sh BUILD_DIR}")
timeout_s=${KN_BOOT_TIMEOUT:-1500}
ignition=/usr/lib/dracut/modules.d/30ignition/ignition
say() { echo "boot-test: $*"; }
phase() { say "$1 took $((SECONDS - phase_started)) s"; phase_started=$SECONDS; }

if [[ $(id -u) -ne 0 ]]; then say "skipped: needs root (debootstrap, file ownership in the guest image)"; exit 77; fi
for tool in qemu-system-x86_64 debootstrap mkfs.ext4 mksquashfs patchelf "$ignition"; do
  command -v "$tool" >/dev/null || { say "skipped: $tool is missing (scripts/install-deps.sh installs it)"; exit 77; }
done
for b in kontena-bootstrap kontena-agent kontena-master-sim; do
  [[ -x $build/bin/$b ]] || { say "failed to find $build/bin/$b: build it first (cmake --build $build --target $b)"; exit 1; }
done

# Sanitizer builds (the dev preset with KN_SANITIZE) are not what an instance runs, and their
# runtime does not fit the units' sandbox; the release build is the one to boot.
if ldd "$build/bin/kontena-agent" | grep -q 'libasan\|libubsan'; then
  say "skipped: $build/bin holds sanitizer builds; boot the release build: scripts/boot-test.sh build-release"
  exit 77
fi

work=$(mktemp -d "$build/boot-test.XXXXXX")
qemu_pid='' http_pid=''
cleanup() {
  [[ -n $qemu_pid ]] && kill -9 "$qemu_pid" 2>/dev/null || true
  [[ -n $http_pid ]] && kill "$http_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  [[ ${KN_BOOT_KEEP:-} == 1 ]] && say "kept $work" || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Copies ELF binary $1 into $2/bin and every library it needs except glibc's own into $2/lib,
# with RUNPATH $ORIGIN/../lib: for the master simulator, a test peer the guest runs (the
# product comes in through the sysext image only).
bundle() {
  local bin=$1 dest=$2 lib
  install -D -m 0755 "$bin" "$dest/bin/$(basename "$bin")"
  strip --strip-debug "$dest/bin/$(basename "$bin")"
  patchelf --set-rpath '$ORIGIN/../lib' "$dest/bin/$(basename "$bin")"
  mkdir -p "$dest/lib"
  for lib in $(ldd "$bin" | awk '/=> \//{print $3}'); do
    case $(basename "$lib") in
      libc.so.*|libm.so.*|libpthread.so.*|libdl.so.*|librt.so.*|libresolv.so.*|ld-linux*) continue ;;
    esac
    cp -L -n "$lib" "$dest/lib/"
  done
}

# 1. The guest root file system (cached; about 6 minutes the first time).
phase_started=$SECONDS
cache=$("$source_dir/scripts/boot-rootfs.sh" "${KN_BOOT_CACHE:-$build}" | tail -n 1)
phase "root file system (cache $cache)"
cp -a "$cache/root" "$work/root"
root=$work/root
# Nothing of the product is in the guest before Ignition runs.
if compgen -G "$root/usr/bin/kontena-*" >/dev/null || [[ -e $root/opt/kontena-node || -e $root/etc/kontena ]]; then
  say "failed: the cached guest root already holds kontena-node files; delete $cache"; exit 1
fi
phase "copy of the cached root"

# 2. The sysext image: the product's own (CMake target artifact), as a release would ship it.
cmake --build "$build" --target artifact >/dev/null
raw=$(ls "$build"/artifact/kontena-node-*-x86-64.raw | tail -n 1)
say "sysext image from the artifact target: $raw"
say "sysext image: $(du -h "$raw" | cut -f1)"
phase "sysext image"

# 3. Render the user-data (the product's own command), with the image on a loopback HTTP server.
mkdir -p "$work/www"
cp "$raw" "$work/www/kontena-node-x86-64.raw"
python3 -u -m http.server --bind 127.0.0.1 --directory "$work/www" 0 >"$work/http.log" 2>&1 &
http_pid=$!
for _ in $(seq 100); do grep -q 'port [0-9]' "$work/http.log" && break; sleep 0.1; done
http_port=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$work/http.log" | head -n 1)
[[ -n $http_port ]] || { say "failed to start the loopback HTTP server: $(cat "$work/http.log")"; exit 1; }
printf 'boot-test-grid-token-%s\n' "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$work/grid-token"
mkdir -p "$work/values/templates/docker.service.d"
cp "$source_dir/cloud-config/templates/docker.service.d/10-kontena-zone.conf" "$work/values/templates/docker.service.d/"
cp "$work/grid-token" "$work/values/grid-token"
cat >"$work/values/values.yml" <<VALUES
url: http://127.0.0.1:9292
token_file: grid-token
node_labels: [boot=test]
templates:
  - file: templates/docker.service.d/10-kontena-zone.conf
    name: docker.service.d/10-kontena-zone.conf
artifact:
  url: http://127.0.0.1:${http_port}/kontena-node-x86-64.raw
  sha512: $(sha512sum "$raw" | cut -d' ' -f1)
VALUES
AWS_EC2_METADATA_DISABLED=true "$build/bin/kontena-bootstrap" render --values "$work/values/values.yml" \
  --format ignition -o "$work/user-data.ign"
ignition-validate "$work/user-data.ign"

# 4. Ignition applies it to the guest's root, as it would in the initramfs at first boot.
# Debian's ignition is built to relabel what it writes for SELinux (it reads
# /etc/selinux/config and runs setfiles); this guest has no SELinux, so the run gets a config
# and a setfiles that does nothing, and both are gone afterwards.
mkdir -p "$root/etc/selinux" "$work/no-selinux"
printf 'SELINUX=disabled\nSELINUXTYPE=targeted\n' >"$root/etc/selinux/config"
printf '#!/bin/sh\ncat >/dev/null\n' >"$work/no-selinux/setfiles"
chmod +x "$work/no-selinux/setfiles"
for stage in fetch files; do
  PATH=$work/no-selinux:$PATH IGNITION_CONFIG_FILE=$work/user-data.ign "$ignition" -platform file -root "$root" -stage "$stage" -log-to-stdout \
    -config-cache "$work/ignition.json" -state-file "$work/ignition.state" -neednet "$work/ignition.neednet" \
    >"$work/ignition-$stage.log" 2>&1 ||
    { tail -n 30 "$work/ignition-$stage.log"; say "failed to apply the Ignition config (stage $stage)"; exit 1; }
done
rm -rf "$root/etc/selinux"
[[ -f $root/etc/extensions/kontena-node.raw ]] || { say "failed: Ignition wrote no /etc/extensions/kontena-node.raw"; exit 1; }
# Ignition enables units through a preset file that the first boot applies (systemd
# preset-all on an empty machine-id); this root has a machine-id, so apply the presets here.
systemctl --root="$root" preset kontena-bootstrap.service kontena-agent.service >/dev/null 2>&1 || true
for u in kontena-bootstrap.service kontena-agent.service; do
  systemctl --root="$root" is-enabled "$u" >/dev/null 2>&1 || { say "failed: Ignition left $u disabled"; exit 1; }
done
kill "$http_pid"; wait "$http_pid" 2>/dev/null || true; http_pid=''
phase "render and Ignition"

# 5. The test peers and checks (not the product): simulators, drop-ins pointing at them, the check unit.
mkdir -p "$root/opt/kn-test/tests/support" "$root/opt/kn-test/tests/fixtures"
cp "$source_dir/tests/support/imds_sim.py" "$root/opt/kn-test/tests/support/"
cp -r "$source_dir/tests/fixtures/imds" "$root/opt/kn-test/tests/fixtures/"
bundle "$build/bin/kontena-master-sim" "$root/opt/kn-test"
cp "$work/grid-token" "$root/opt/kn-test/grid-token"
cp "$source_dir/tests/boot/guest-check.sh" "$root/opt/kn-test/"
for u in kn-test-imds kn-test-master kn-test-check; do
  cp "$source_dir/tests/boot/$u.service" "$root/etc/systemd/system/"
  ln -sf "/etc/systemd/system/$u.service" "$root/etc/systemd/system/multi-user.target.wants/$u.service"
done
install -D -m 0644 "$source_dir/tests/boot/kontena-bootstrap-test.conf" "$root/etc/systemd/system/kontena-bootstrap.service.d/90-boot-test.conf"
install -D -m 0644 "$source_dir/tests/boot/kontena-agent-test.conf" "$root/etc/systemd/system/kontena-agent.service.d/90-boot-test.conf"
truncate -s 3G "$work/root.img"
mkfs.ext4 -q -F -d "$root" "$work/root.img"
rm -rf "$root"
phase "disk image"

# 6. Boot. -netdev user,restrict=on: the guest reaches nothing outside itself.
qemu-system-x86_64 -accel tcg -m 1536 -smp 1 -display none -monitor none -no-reboot \
  -serial "file:$work/serial.log" -kernel "$cache/vmlinuz" -initrd "$cache/initrd.img" \
  -append "root=/dev/vda rw console=ttyS0 init=/lib/systemd/systemd systemd.unit=multi-user.target quiet" \
  -drive "file=$work/root.img,if=virtio,format=raw" -netdev user,id=n0,restrict=on -device virtio-net-pci,netdev=n0 &
qemu_pid=$!
deadline=$((SECONDS + timeout_s))
reported=0
while kill -0 "$qemu_pid" 2>/dev/null && ((SECONDS < deadline)); do
  n=$(grep -c '^KN-BOOT ' "$work/serial.log" 2>/dev/null || true)
  if ((n > reported)); then grep '^KN-BOOT ' "$work/serial.log" | sed -n "$((reported + 1)),${n}p" | sed 's/^/guest: /'; reported=$n; fi
  grep -q '^KN-BOOT DONE' "$work/serial.log" 2>/dev/null && break
  sleep 1
done
# The guest powers itself off after DONE; give it a moment, then qemu goes regardless.
for _ in $(seq 60); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.5; done
kill -9 "$qemu_pid" 2>/dev/null || true; wait "$qemu_pid" 2>/dev/null || true; qemu_pid=''
n=$(grep -c '^KN-BOOT ' "$work/serial.log" || true)
((n > reported)) && grep '^KN-BOOT ' "$work/serial.log" | sed -n "$((reported + 1)),${n}p" | sed 's/^/guest: /'
phase "boot and checks in the guest"

if ! grep -q '^KN-BOOT DONE' "$work/serial.log"; then
  tail -n 40 "$work/serial.log" | sed 's/^/serial: /'
  say "FAILED: the guest did not finish its checks within ${timeout_s} s (total $((SECONDS - started)) s)"
  exit 1
fi
for check in sysext-at-boot bootstrap-before-docker docker-labels templated-zone agent-ready master-online stop-close-1000 sysext-merge; do
  grep -q "^KN-BOOT ok $check:" "$work/serial.log" || { say "FAILED: check $check did not pass (total $((SECONDS - started)) s)"; exit 1; }
done
say "passed: 8 checks in the guest (total $((SECONDS - started)) s)"
