#!/bin/sh
# fresh-check.sh [--keep] [--epochs N] [--skip-check]: the README's two
# commands on a new Debian 12 machine, whatever this machine has installed.
#
# Makes a fresh Debian 12 root with debootstrap (--variant=minbase, from the
# apt sources this machine uses, read at run time), adds only `make` (the
# one thing the README's commands assume besides the clone), copies a clean
# clone of HEAD into it, and runs there, with an empty environment (so no
# OPENBLAS_CORETYPE or anything else this machine sets):
#     make deps demo EPOCHS=N      (default N=1: the demo's pipeline, short)
#     make check                   (the test command; --skip-check leaves it out)
# Each command's output goes to the log folder and its status and time to
# the summary printed last. Needs root (debootstrap, chroot, mount) and the
# package archive; takes 15-30 minutes. The root is removed at the end
# unless --keep. Exit 0 when both commands exited 0.
set -eu
epochs=1 keep=0 check=1
while [ $# -gt 0 ]; do
    case $1 in
    --keep) keep=1 ;;
    --skip-check) check=0 ;;
    --epochs) epochs=$2; shift ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "fresh-check: unknown argument '$1'" >&2; exit 64 ;;
    esac
    shift
done
[ "$(id -u)" -eq 0 ] || { echo "fresh-check: needs root (debootstrap, chroot, mount)" >&2; exit 77; }
top=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v debootstrap >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null
fi

# The archive this machine installs from: deb822 sources first, then the
# one-line format.
mirror=$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' |
         grep -v security | head -n 1 || true)
[ -n "$mirror" ] || mirror=$(grep -h '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' |
                             grep -v security | head -n 1 || true)
[ -n "$mirror" ] || { echo "fresh-check: no Debian mirror in this machine's apt sources" >&2; exit 69; }

base=${FRESH_DIR:-/var/tmp}/cdt-fresh.$$
root=$base/root log=$base/log
mkdir -p "$root" "$log"
cleanup() {
    for m in "$root/proc" "$root/dev/pts"; do
        mountpoint -q "$m" 2>/dev/null && umount "$m"
    done
    # remove the root only when nothing is mounted inside it any more
    if [ $keep -eq 0 ] && ! grep -q " $root/" /proc/mounts; then rm -rf "$root"; fi
}
trap cleanup EXIT INT TERM
t() { date +%s; }

echo "fresh-check: debootstrap bookworm from $mirror into $root"
s=$(t)
debootstrap --variant=minbase bookworm "$root" "$mirror" >"$log/debootstrap.log" 2>&1 ||
    { tail -n 20 "$log/debootstrap.log"; exit 1; }
cp -a /etc/apt/sources.list.d "$root/etc/apt/"
[ -e /etc/apt/sources.list ] && cp /etc/apt/sources.list "$root/etc/apt/"
mount -t proc proc "$root/proc"
mkdir -p "$root/dev/pts"
mount -t devpts devpts "$root/dev/pts"
in_root() {
    chroot "$root" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive /bin/sh -c "$1"
}
in_root 'apt-get update -q && apt-get install -y -q --no-install-recommends make' >"$log/make.log" 2>&1 ||
    { tail -n 20 "$log/make.log"; exit 1; }
echo "fresh-check: root ready in $(( $(t) - s )) s; packages: $(in_root 'dpkg -l | grep -c ^ii')"
git clone -q --no-hardlinks "$top" "$root/src/cdt"
echo "fresh-check: clean clone of $(git -C "$top" rev-parse --short HEAD) in /src/cdt"

run_step() { # name command
    s=$(t)
    echo "fresh-check: [$1] $2"
    if in_root "cd /src/cdt && $2" >"$log/$1.log" 2>&1; then rc=0; else rc=$?; fi
    echo "fresh-check: [$1] exit $rc after $(( $(t) - s )) s; last lines:"
    tail -n 15 "$log/$1.log" | sed 's/^/    /'
    echo "$1 | $2 | exit $rc | $(( $(t) - s )) s" >>"$log/summary"
    return $rc
}
st=0
run_step demo "make deps demo EPOCHS=$epochs" || st=1
if [ $check -eq 1 ]; then run_step check "make check" || st=1; fi
echo "fresh-check: summary (logs in $log)"
sed 's/^/    /' "$log/summary"
[ $st -eq 0 ] && echo "fresh-check: both commands passed on a fresh Debian 12 root" ||
    echo "fresh-check: FAILED"
exit $st
