#!/usr/bin/env bash
# Build a fully static schemagate binary and print its path on stdout.
#
#   docker/build-static.sh            # from anywhere in the repo
#   SCHEMAGATE_STATIC=gnu docker/build-static.sh   # force one path
#
# 1. musl (preferred): target <arch>-unknown-linux-musl, which needs the rustup
#    target and musl-tools (musl-gcc, for the C in `ring`). The target is
#    added with rustup when missing; on a machine that cannot reach the rustup
#    server that step fails and we fall back.
# 2. static glibc: target <arch>-unknown-linux-gnu with
#    RUSTFLAGS='-C target-feature=+crt-static'. Always available where the
#    host toolchain is. glibc warns at link time that getaddrinfo in a static
#    binary needs glibc's shared NSS modules at run time; since glibc 2.34 the
#    "files" and "dns" services are built into libc, and in a FROM scratch
#    image (no nsswitch.conf) those are the defaults, so names resolve. See
#    deploy/README.md, "Building the image".
#
# Both builds go to target/<triple>/release/, beside (not over) the host build
# in target/release, so they never invalidate each other. Progress goes to
# stderr; the only line on stdout is the binary's path.
#
# Env: SCHEMAGATE_STATIC=auto|musl|gnu (default auto), CARGO (default cargo),
#      CARGO_TARGET_DIR (default target), SCHEMAGATE_ARCH (default uname -m).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo=${CARGO:-cargo}
mode=${SCHEMAGATE_STATIC:-auto}
arch=${SCHEMAGATE_ARCH:-$(uname -m)}
case "$arch" in
    x86_64 | amd64) arch=x86_64 ;;
    aarch64 | arm64) arch=aarch64 ;;
    *) echo "build-static: unsupported architecture $arch" >&2; exit 2 ;;
esac
target_dir=${CARGO_TARGET_DIR:-target}
locked=()
[[ -f Cargo.lock ]] && locked=(--locked)

log() { echo "build-static: $*" >&2; }

is_static() {
    # A static(-pie) executable has no PT_INTERP and no DT_NEEDED entries.
    local f=$1
    if command -v readelf >/dev/null; then
        ! readelf -lW "$f" | grep -q 'Requesting program interpreter' &&
            ! readelf -dW "$f" 2>/dev/null | grep -q '(NEEDED)'
    else
        file "$f" | grep -Eq 'static(-pie)? linked|statically linked'
    fi
}

musl_ready() {
    local triple=$1
    if ! command -v musl-gcc >/dev/null && ! command -v "$arch-linux-musl-gcc" >/dev/null; then
        log "musl: no musl-gcc (apt-get install musl-tools)"
        return 1
    fi
    if command -v rustup >/dev/null; then
        if ! rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
            log "musl: adding rustup target $triple"
            if ! rustup target add "$triple" >&2; then
                log "musl: rustup target add $triple failed"
                return 1
            fi
        fi
    elif ! rustc --print target-libdir --target "$triple" >/dev/null 2>&1; then
        log "musl: no rustup and no std for $triple"
        return 1
    fi
}

build_musl() {
    local triple=$arch-unknown-linux-musl
    musl_ready "$triple" || return 1
    log "building $triple (musl, static)"
    # ring's build script compiles C: use the musl wrapper (native builds).
    local ccvar=CC_${arch}_unknown_linux_musl
    if [[ -z "${!ccvar:-}" ]] && command -v musl-gcc >/dev/null; then
        export "$ccvar=musl-gcc"
    fi
    "$cargo" build --release "${locked[@]}" --target "$triple" --bin schemagate >&2 || return 1
    echo "$target_dir/$triple/release/schemagate"
}

build_gnu() {
    local triple=$arch-unknown-linux-gnu
    log "building $triple with +crt-static (static glibc)"
    RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
        "$cargo" build --release "${locked[@]}" --target "$triple" --bin schemagate >&2 || return 1
    echo "$target_dir/$triple/release/schemagate"
}

bin=
case "$mode" in
    musl) bin=$(build_musl) ;;
    gnu) bin=$(build_gnu) ;;
    auto) bin=$(build_musl) || { log "falling back to static glibc"; bin=$(build_gnu); } ;;
    *) log "SCHEMAGATE_STATIC must be auto, musl or gnu"; exit 2 ;;
esac

if [[ -z "$bin" || ! -x "$bin" ]]; then
    log "no binary produced"
    exit 1
fi
if ! is_static "$bin"; then
    log "$bin is not static:"
    file "$bin" >&2 || true
    exit 1
fi
log "static binary, $(du -h "$bin" | cut -f1): $bin"
realpath "$bin"
