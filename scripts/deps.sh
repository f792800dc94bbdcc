#!/bin/sh
# Install the Debian packages cdt needs that are missing (Open MPI: for
# data-parallel training and its tests; cdt builds and runs without it); as a non-root user,
# print the exact apt-get line instead. Optional packages (torch, sklearn,
# torchvision: golden-file generators and benchmark references; chromium:
# the browser test of cdt-report) only with --optional.
set -eu
need="build-essential pkg-config libopenblas-dev libzstd-dev libjpeg-dev libpng-dev zlib1g-dev zstd dataset-fashion-mnist python3-numpy python3-zstandard clang libclang-rt-dev libomp-dev xxd openmpi-bin libopenmpi-dev"
if [ "${1:-}" = "--optional" ]; then
    need="$need python3-torch python3-torchvision python3-sklearn chromium"
fi
missing=""
for p in $need; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && { echo "deps: all present"; exit 0; }
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing:$missing" >&2
    echo "deps: run: sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null || apt-get update
apt-get install -y -q $missing
