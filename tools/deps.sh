#!/usr/bin/env bash
# Installs what the build and the tests need, and nothing that is already
# there. Debian packages with apt-get when run as root; npm packages from the
# committed package-lock.json. Called by `make run` and `make check`; safe to
# run again (it only looks when everything is present).
#
#   tools/deps.sh build   libraries and compilers for the three programs
#   tools/deps.sh test    the above, plus node, npm packages, python zmq
#   tools/deps.sh fuzz    the build set, plus clang and its libFuzzer runtime
#   tools/deps.sh memcheck  the build set, plus valgrind
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-build}

pkgs=()
need_pc() { pkg-config --exists "$1" 2>/dev/null || pkgs+=("$2"); }
need_cmd() { command -v "$1" >/dev/null 2>&1 || pkgs+=("$2"); }
need_file() { [ -e "$1" ] || pkgs+=("$2"); }

need_cmd cc gcc
need_cmd make make
need_cmd pkg-config pkg-config
if command -v pkg-config >/dev/null 2>&1; then
    need_pc libzmq libzmq3-dev
    need_pc libczmq libczmq-dev
    need_pc libwebsockets libwebsockets-dev
    need_pc msgpack libmsgpack-dev
    need_pc yaml-0.1 libyaml-dev
    need_pc lmdb liblmdb-dev
    need_pc libcrypto libssl-dev
    need_pc check check
else
    pkgs+=(libzmq3-dev libczmq-dev libwebsockets-dev libmsgpack-dev
        libyaml-dev liblmdb-dev libssl-dev check)
fi
if [ "$what" = test ]; then
    need_cmd node nodejs
    # Debian's nodejs ships npm separately; a nodesource nodejs bundles it.
    command -v node >/dev/null 2>&1 && ! command -v npm >/dev/null 2>&1 &&
        pkgs+=(npm)
    command -v node >/dev/null 2>&1 || pkgs+=(npm)
    need_file /usr/lib/python3/dist-packages/zmq python3-zmq
    need_file /usr/lib/python3/dist-packages/msgpack python3-msgpack
    need_cmd openssl openssl
    need_cmd curl curl
fi

if [ "$what" = fuzz ]; then
    need_cmd clang clang
    ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a \
        >/dev/null 2>&1 || pkgs+=(libclang-rt-14-dev)
fi
if [ "$what" = memcheck ]; then
    need_cmd valgrind valgrind
fi

if [ ${#pkgs[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps: missing Debian packages: ${pkgs[*]}" >&2
        echo "deps: run as root, or: sudo apt-get install ${pkgs[*]}" >&2
        exit 1
    fi
    echo "deps: installing ${pkgs[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
fi

if [ "$what" = test ]; then
    # npm ci only when the lock changed since the last install.
    stamp=node_modules/.conduit-lock
    if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
        echo "deps: npm ci" >&2
        npm ci --no-audit --no-fund --loglevel=error >&2
        cp package-lock.json "$stamp"
    fi
fi
