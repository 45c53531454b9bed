#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the demo need.
# Idempotent and non-interactive; run as root (CI and fresh machines are root).
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libcurl4-openssl-dev libssl-dev openssl ca-certificates zlib1g-dev
  libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libboost1.81-dev libboost-system1.81-dev libboost-url1.81-dev
  libsystemd-dev systemd
  catch2 libcli11-dev
  clang libclang-rt-14-dev   # the libFuzzer fuzzers (fuzz preset, scripts/fuzz.sh)
  docker.io dbus ignition
  docker-registry busybox-static apache2-utils
  python3 iproute2 procps
  valgrind           # scripts/valgrind-agent.sh
  amazon-ec2-utils   # ec2-metadata: bench/run times the boot path next to it
  squashfs-tools patchelf rpm   # the artifact (tarball, sysext image) and the .rpm: packaging/
  debootstrap qemu-system-x86 e2fsprogs   # scripts/boot-test.sh: a real systemd guest
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  echo "install-deps: missing packages (${missing[*]}); run this script as root" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# The 1.81 Boost -dev packages conflict with the default 1.74 ones; apt removes those.
apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"
