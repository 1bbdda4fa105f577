#!/usr/bin/env bash
# Build a PostgreSQL container image with no registry: assemble a root
# filesystem from this machine's PostgreSQL packages (binaries, their shared
# libraries found with ldd, share files, tzdata) plus busybox-static for the
# entrypoint, and `docker import` it.
#
#   tests/e2e/build-pg-image.sh            # prints the image tag
#
# The tag carries a hash of this script, the entrypoint and the PostgreSQL
# package version, so a rerun with nothing changed costs one `docker image
# inspect`. Needs: docker, the PostgreSQL server and client packages
# (postgresql-NN, postgresql-client-NN) and busybox-static (/bin/busybox).
# Like the official image it starts as root and drops to postgres (uid 999).
# The image behaves like the official postgres image for what the e2e tests
# use (see pg-image/docker-entrypoint.sh); it is a test fixture, not a product.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
entrypoint=$here/pg-image/docker-entrypoint.sh
repo=${PG_IMAGE_REPO:-schemagate-e2e/postgres}

pgbin=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
if [[ -z "$pgbin" || ! -x "$pgbin/postgres" ]]; then
    echo "build-pg-image: no PostgreSQL server under /usr/lib/postgresql/*/bin (apt-get install postgresql)" >&2
    exit 1
fi
pgver=$(basename "$(dirname "$pgbin")")
busybox=${BUSYBOX:-/bin/busybox}
if ! "$busybox" --list 2>/dev/null | grep -qx sh || ldd "$busybox" >/dev/null 2>&1; then
    echo "build-pg-image: need a static busybox at $busybox (apt-get install busybox-static)" >&2
    exit 1
fi
full_ver=$("$pgbin/postgres" --version | awk '{print $3}')
hash=$( { cat "$0" "$entrypoint"; echo "$full_ver"; sha256sum "$pgbin/postgres"; } | sha256sum | cut -c1-12)
tag="$repo:$pgver-$hash"

if docker image inspect "$tag" >/dev/null 2>&1; then
    echo "$tag"
    exit 0
fi

echo "build-pg-image: assembling PostgreSQL $full_ver into $tag" >&2
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT

pglib=$(dirname "$pgbin")/lib
pgshare=/usr/share/postgresql/$pgver
# Merged /usr, as on the host: ldd prints /lib/... and /lib64/... paths.
mkdir -p "$root/usr/bin" "$root/usr/lib" "$root/usr/lib64" "$root/usr/local/bin" "$root/usr/share"
ln -s usr/bin "$root/bin"
ln -s usr/lib "$root/lib"
ln -s usr/lib64 "$root/lib64"
mkdir -p "$root$pgbin" "$root$pglib" "$root/etc" "$root/tmp" "$root/var" \
    "$root/run/postgresql" "$root/var/lib/postgresql/data" "$root/docker-entrypoint-initdb.d"
chmod 1777 "$root/tmp"
ln -s ../run "$root/var/run"

bins=(postgres initdb pg_ctl psql pg_isready createdb)
for b in "${bins[@]}"; do
    cp -L "$pgbin/$b" "$root$pgbin/"
done
# Server modules, without the LLVM JIT (libLLVM alone is >100 MB; without it
# PostgreSQL just runs with JIT unavailable).
tar -C "$pglib" --exclude=./bitcode --exclude='llvmjit*' -cf - . | tar -C "$root$pglib" -xf -
mkdir -p "$root$pgshare"
cp -a "$pgshare/." "$root$pgshare/"
cp -a /usr/share/zoneinfo "$root/usr/share/"

# Every shared library the binaries and the server's modules load, with the
# dynamic loader itself; copied to the same paths (ldd shows real paths).
mapfile -t libs < <(
    { for b in "${bins[@]}"; do ldd "$pgbin/$b"; done
      find "$pglib" -name '*.so' ! -name 'llvmjit*' -exec ldd {} \; ; } 2>/dev/null |
        awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}' | sort -u
)
for lib in "${libs[@]}"; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
cp "$busybox" "$root/bin/busybox"
for applet in $("$root/bin/busybox" --list); do
    [[ -e "$root/bin/$applet" ]] || ln -s busybox "$root/bin/$applet"
done
install -m 0755 "$entrypoint" "$root/usr/local/bin/docker-entrypoint.sh"

cat >"$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
postgres:x:999:999:PostgreSQL:/var/lib/postgresql:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$root/etc/group" <<'GROUP'
root:x:0:
postgres:x:999:
nogroup:x:65534:
GROUP
chown -R 999:999 "$root/var/lib/postgresql" "$root/run/postgresql"
chmod 700 "$root/var/lib/postgresql/data"

# `docker build` of a FROM scratch Dockerfile that ADDs the rootfs tarball
# (ADD keeps the tar's owners). scratch is no image, so nothing is pulled;
# unlike `docker import --change`, this can also set STOPSIGNAL.
ctx=$(mktemp -d)
trap 'rm -rf "$root" "$ctx"' EXIT
tar --numeric-owner -C "$root" -cf "$ctx/rootfs.tar" .
cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM scratch
ADD rootfs.tar /
# TZ spares initdb a scan of every zoneinfo file (seconds on overlay storage).
ENV PATH=$pgbin:/usr/local/bin:/usr/bin PGDATA=/var/lib/postgresql/data LANG=C TZ=Etc/UTC
LABEL org.opencontainers.image.title="schemagate-e2e-postgres" \\
      org.opencontainers.image.description="PostgreSQL assembled from the host's packages for schemagate's e2e tests" \\
      org.opencontainers.image.version="$full_ver"
EXPOSE 5432
STOPSIGNAL SIGINT
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["postgres"]
DOCKERFILE
if ! DOCKER_BUILDKIT=0 docker build -q -t "$tag" "$ctx" >"$ctx/build.log" 2>&1; then
    cat "$ctx/build.log" >&2
    exit 1
fi
# Drop older builds of this fixture.
docker images "$repo" --format '{{.Repository}}:{{.Tag}}' | grep -vxF "$tag" | xargs -r docker rmi >/dev/null 2>&1 || true
echo "$tag"
