#!/usr/bin/env bash
# Build a stand-in for the official Rust image (rust:1-slim-bookworm) with no
# registry, for building docker/Dockerfile in the e2e suite: a Debian bookworm
# minbase root filesystem from debootstrap, with the packages the official
# slim image adds (ca-certificates, gcc, libc6-dev), plus this machine's
# stable Rust toolchain, laid out as the official image lays it out:
# RUSTUP_HOME=/usr/local/rustup, CARGO_HOME=/usr/local/cargo, the rustup
# proxies in /usr/local/cargo/bin, the toolchain as the default, trimmed to
# the minimal profile (rustc, cargo, rust-std). Then `docker import`.
#
#   tests/e2e/build-rust-image.sh            # prints the image tag
#
# The tag carries the Rust version and a hash of this script, the toolchain
# (rustc -vV) and rustup's version, so a rerun with nothing changed costs one
# `docker image inspect`; older builds of the stand-in are removed.
#
# Env: E2E_DEBIAN_MIRROR  debootstrap's mirror (http://deb.debian.org/debian)
#      RUST_TOOLCHAIN     the host toolchain to copy (stable)
# Needs: docker, debootstrap, debian-archive-keyring, rustup and the toolchain,
# root (or sudo) for debootstrap, network access to the Debian mirror.
# It is a test fixture, not a product: like the official image it carries no
# musl target; docker/Dockerfile adds that (which needs the rustup server).
set -euo pipefail

repo=${RUST_IMAGE_REPO:-schemagate-e2e/rust}
mirror=${E2E_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
toolchain=${RUST_TOOLCHAIN:-stable}

log() { echo "build-rust-image: $*" >&2; }
die() { log "$*"; exit 1; }

command -v rustup >/dev/null || die "no rustup on PATH"
command -v debootstrap >/dev/null || die "no debootstrap (apt-get install debootstrap)"
sysroot=$(rustup run "$toolchain" rustc --print sysroot) || die "no $toolchain toolchain (rustup toolchain install $toolchain)"
sysroot=$(realpath "$sysroot")
vv=$(rustup run "$toolchain" rustc -vV)
host=$(sed -n 's/^host: //p' <<<"$vv")
version=$(sed -n 's/^release: //p' <<<"$vv")
[[ -n "$host" && -n "$version" ]] || die "cannot read the toolchain's host and release from rustc -vV"
rustup_bin=$(realpath "$(command -v rustup)")
hash=$( { cat "$0"; echo "$vv"; "$rustup_bin" --version 2>/dev/null; echo "$suite $mirror"; } | sha256sum | cut -c1-12)
tag="$repo:$version-slim-$suite-$hash"

if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "$tag"
    exit 0
fi

sudo=()
if [[ $(id -u) != 0 ]]; then
    command -v sudo >/dev/null || die "debootstrap needs root (or sudo)"
    sudo=(sudo)
fi

work=$(mktemp -d "${TMPDIR:-/var/tmp}/rust-image.XXXXXX")
cleanup() { "${sudo[@]}" rm -rf "$work"; }
trap cleanup EXIT
root=$work/root
t0=$SECONDS

log "debootstrap $suite (minbase + ca-certificates gcc libc6-dev) from $mirror"
if ! "${sudo[@]}" debootstrap --variant=minbase --include=ca-certificates,gcc,libc6-dev \
    "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -30 "$work/debootstrap.log" >&2
    [[ -f "$root/debootstrap/debootstrap.log" ]] && tail -30 "$root/debootstrap/debootstrap.log" >&2
    die "debootstrap failed"
fi
# As in debian:bookworm-slim: the release, its updates and security updates.
"${sudo[@]}" rm -f "$root/etc/apt/sources.list"
"${sudo[@]}" tee "$root/etc/apt/sources.list.d/debian.sources" >/dev/null <<SOURCES
Types: deb
URIs: http://deb.debian.org/debian
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
"${sudo[@]}" sh -c "rm -rf '$root'/var/cache/apt/archives/*.deb '$root'/var/lib/apt/lists/* '$root'/etc/hostname '$root'/etc/resolv.conf"
log "debootstrap done in $((SECONDS - t0))s"

# The toolchain as the official image has it: a toolchain named after its
# version and host, the default; the rustup binary and its proxies in
# $CARGO_HOME/bin.
name=$version-$host
rhome=$root/usr/local/rustup
chome=$root/usr/local/cargo
"${sudo[@]}" mkdir -p "$rhome/toolchains" "$chome/bin"
"${sudo[@]}" cp -a "$sysroot" "$rhome/toolchains/$name"
"${sudo[@]}" install -m 0755 "$rustup_bin" "$chome/bin/rustup"
for proxy in cargo cargo-clippy cargo-fmt clippy-driver rust-gdb rust-gdbgui rust-lldb rustc rustdoc rustfmt; do
    "${sudo[@]}" ln "$chome/bin/rustup" "$chome/bin/$proxy"
done
rup() { "${sudo[@]}" env RUSTUP_HOME="$rhome" CARGO_HOME="$chome" RUSTUP_AUTO_INSTALL=0 "$rustup_bin" "$@"; }
rup set profile minimal >/dev/null 2>&1
rup default "$name" >/dev/null 2>&1 || die "rustup default $name failed"
# The minimal profile: drop what the host added (docs, clippy, rustfmt, ...).
mapfile -t extra < <(rup component list --installed --toolchain "$name" 2>/dev/null |
    sed "s/-$host\$//" | grep -Evx 'rustc|cargo|rust-std')
if ((${#extra[@]})); then
    rup component remove --toolchain "$name" "${extra[@]}" >&2 || die "rustup component remove ${extra[*]} failed"
fi
"${sudo[@]}" chmod -R a+w "$rhome" "$chome"

log "importing $tag ($("${sudo[@]}" du -sh "$root" | cut -f1))"
"${sudo[@]}" tar --numeric-owner -C "$root" -cf - . | docker import \
    --change "ENV RUSTUP_HOME=/usr/local/rustup" \
    --change "ENV CARGO_HOME=/usr/local/cargo" \
    --change "ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV RUST_VERSION=$version" \
    --change "LABEL org.opencontainers.image.title=schemagate-e2e-rust org.opencontainers.image.description=stand-in-for-rust:1-slim-bookworm org.opencontainers.image.version=$version" \
    --change 'CMD ["bash"]' \
    - "$tag" >/dev/null || die "docker import failed"
if ! docker run --rm --network none "$tag" sh -c 'cargo --version && rustc --version && rustup default' >&2; then
    docker rmi "$tag" >/dev/null 2>&1 || true
    die "the toolchain does not run in $tag"
fi
docker images "$repo" --format '{{.Repository}}:{{.Tag}}' | grep -vxF "$tag" | xargs -r docker rmi >/dev/null 2>&1 || true
log "built $tag in $((SECONDS - t0))s"
echo "$tag"
