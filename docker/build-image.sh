#!/usr/bin/env bash
# Build the schemagate image offline: docker/Dockerfile.prebuilt (the same
# FROM scratch final stage as docker/Dockerfile) around a prebuilt static
# binary. No base image is pulled, no Rust image is needed.
#
#   docker/build-image.sh                       # builds the binary too, tags schemagate:local
#   docker/build-image.sh -t registry.example.com/schemagate:1.0 --binary path/to/schemagate
#   docker/build-image.sh -t shop-migrate:1 --migrations ./migrations   # bake .sql files in
#
# Without --binary the binary comes from docker/build-static.sh. Prints the
# tag on stdout, and the image size on stderr.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tag=schemagate:local
binary=
migrations=

while (($#)); do
    case "$1" in
        -t | --tag) tag=$2; shift 2 ;;
        --binary) binary=$2; shift 2 ;;
        --migrations) migrations=$2; shift 2 ;;
        -h | --help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "build-image: unknown argument $1" >&2; exit 2 ;;
    esac
done

if [[ -z "$binary" ]]; then
    binary=$("$repo/docker/build-static.sh")
fi
[[ -x "$binary" ]] || { echo "build-image: $binary is not an executable" >&2; exit 1; }

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp "$binary" "$ctx/schemagate"
chmod 0755 "$ctx/schemagate"
mkdir -m 0755 "$ctx/migrations"
if [[ -n "$migrations" ]]; then
    shopt -s nullglob
    files=("$migrations"/*.sql)
    ((${#files[@]})) || { echo "build-image: no .sql files in $migrations" >&2; exit 1; }
    install -m 0644 "${files[@]}" "$ctx/migrations/"
fi
cp "$repo/docker/Dockerfile.prebuilt" "$ctx/Dockerfile"

version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$repo/Cargo.toml" 2>/dev/null | head -1)
revision=$(git -C "$repo" rev-parse --verify -q HEAD 2>/dev/null || echo unknown)

# The classic builder: it needs no buildx plugin and, for FROM scratch,
# nothing from a registry.
if ! DOCKER_BUILDKIT=0 docker build -q \
    --build-arg "VERSION=${version:-0.0.0}" \
    --build-arg "REVISION=$revision" \
    --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    -t "$tag" "$ctx" >"$ctx/build.log" 2>&1; then
    cat "$ctx/build.log" >&2
    exit 1
fi
size=$(docker image inspect -f '{{.Size}}' "$tag")
echo "build-image: $tag is $size bytes ($(awk -v s="$size" 'BEGIN{printf "%.2f MB", s/1e6}'))" >&2
echo "$tag"
