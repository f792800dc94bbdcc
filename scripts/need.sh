#!/bin/sh
# need.sh MODULE...: what `make` checks before any compiler runs. The C
# compiler ($CC) and the pkg-config files of the libraries the build links
# (openblas libzstd libpng libjpeg zlib, asked of $PKG_CONFIG); when any is
# missing, one line on stderr naming the Debian packages that bring them
# and how to install them, and exit 1. Silent and 0 when all are there.
# scripts/deps.sh installs these and the rest (the test and tool runtime
# packages); this one only looks.
set -u
cc=${CC:-cc}
pc=${PKG_CONFIG:-pkg-config}
missing=""
add() { case " $missing " in *" $1 "*) ;; *) missing="${missing:+$missing }$1" ;; esac; }

# The Debian package that brings a pkg-config module (and its headers).
package_of() {
    case $1 in
    openblas) echo libopenblas-dev ;;
    libzstd) echo libzstd-dev ;;
    libpng) echo libpng-dev ;;
    libjpeg) echo libjpeg-dev ;;
    zlib) echo zlib1g-dev ;;
    *) echo "$1" ;;
    esac
}

# The compiler: CC may carry options (CC="gcc -m64"); its first word runs.
ccbin=${cc%% *}
if ! command -v "$ccbin" >/dev/null 2>&1; then
    case $(basename "$ccbin") in
    clang*) add clang ;;
    *) add build-essential ;;
    esac
fi
if command -v "$pc" >/dev/null 2>&1; then
    for m in "$@"; do
        "$pc" --exists "$m" 2>/dev/null || add "$(package_of "$m")"
    done
else
    # Without pkg-config nothing can be asked; a machine without it lacks
    # the -dev packages too, or dpkg says which it has.
    add pkg-config
    for m in "$@"; do
        p=$(package_of "$m")
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || add "$p"
    done
fi
[ -z "$missing" ] && exit 0
echo "cdt: missing $missing (run 'make deps' as root, or: sudo apt-get install $missing)" >&2
exit 1
