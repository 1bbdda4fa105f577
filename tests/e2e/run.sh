#!/usr/bin/env bash
# End-to-end tests of compose.yaml and the schemagate image on a real Docker
# Engine, with no registry: the PostgreSQL image is assembled from this
# machine's packages (build-pg-image.sh), and a stand-in for the official
# Rust image from debootstrap and this machine's toolchain
# (build-rust-image.sh), so that docker/Dockerfile is built for real, as the
# quickstart builds it.
#
#   tests/e2e/run.sh                 # all scenarios
#   tests/e2e/run.sh happy tls       # some of them
#
# Scenarios: quickstart rebuild buildfail image happy broken slowdb scale verifywait stop
#            tls readonly configmap libc umask
# quickstart runs the README's quickstart in a clean copy of the repository
# (tracked and untracked-but-not-ignored files, with the modes a clone has):
# `up` builds docker/Dockerfile, app starts, Ctrl-C, a no-op rerun, `down -v`.
# The other scenarios use the image built from that binary by
# docker/build-image.sh (Dockerfile.prebuilt); when quickstart is not among
# those run, the image is built with `compose build` first.
# The summary ends with the figures the README quotes (image sizes, build
# times), then the last line: "N passed, M failed".
#
# Without a Docker engine or compose it prints "skipped: ..." and exits 0,
# unless E2E_REQUIRE=1 (scripts/test sets it): then that is a failure.
#
# Env: E2E_REQUIRE=1        fail, rather than skip, without docker or compose
#      E2E_RUST_IMAGE       the build stage's base (RUST_IMAGE) instead of the
#                           stand-in, e.g. rust:1-slim-bookworm where a registry answers
#      E2E_CA_BUNDLE        the host's CA bundle (/etc/ssl/certs/ca-certificates.crt):
#                           its certificates that the Rust image lacks (a
#                           TLS-intercepting proxy's) go to the build as EXTRA_CA_CERTS
#      E2E_BUILD_TIMEOUT    seconds for the first build (1500)
#      SCHEMAGATE_BINARY    use this static binary for the scenarios after
#                           quickstart instead of the one built by docker/Dockerfile
#      E2E_POSTGRES_IMAGE   use this PostgreSQL image instead of building one
#      E2E_KEEP=1           leave the compose projects up for inspection
#      E2E_LOG_DIR          where logs go (target/e2e)
# Needs: docker (engine + CLI), docker compose v2 or docker-compose v1, git,
# openssl, the PostgreSQL server/client packages and busybox-static (for the
# PostgreSQL image), debootstrap (installed through scripts/ensure-deps when
# missing), a Rust toolchain through rustup, and network access to the
# Debian mirror, crates.io and the rustup server (the musl target).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
e2e=tests/e2e

# unavailable WHY: no engine or no compose; a skip, or a failure under E2E_REQUIRE=1.
unavailable() {
    if [[ "${E2E_REQUIRE:-}" == 1 ]]; then
        echo "FAIL e2e: $1 (E2E_REQUIRE=1: the e2e suite is required here)"
        echo "0 passed, 1 failed"
        exit 1
    fi
    echo "e2e: skipped: $1"
    exit 0
}
if ! docker info >/dev/null 2>&1; then
    unavailable "no docker engine (docker info failed)"
fi
if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
    COMPOSE=(docker-compose)
else
    unavailable "no docker compose (neither 'docker compose' nor docker-compose)"
fi

all=(quickstart rebuild buildfail image happy broken slowdb scale verifywait stop tls readonly configmap libc umask)
if (($#)); then selected=("$@"); else selected=("${all[@]}"); fi

logdir=${E2E_LOG_DIR:-$root/target/e2e}
rm -rf "$logdir"
mkdir -p "$logdir"
work=$(mktemp -d)
projects=()
passed=0
failed=0
failures=()
figures=()

log() { echo "e2e: $*" >&2; }
ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() {
    failed=$((failed + 1))
    failures+=("$*")
    echo "FAIL $*"
}
# check DESCRIPTION COMMAND...: one assertion.
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else fail "$what"; fi
}
# figure TEXT: a measured figure, repeated in the summary.
figure() { figures+=("$*"); echo "    $*"; }
# fatal WHAT: a step everything else needs failed.
fatal() {
    fail "$1"
    echo "$passed passed, $failed failed"
    exit 1
}

cleanup() {
    if [[ "${E2E_KEEP:-}" != 1 ]]; then
        for p in "${projects[@]}"; do
            "${COMPOSE[@]}" -p "$p" -f "$root/compose.yaml" down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
        done
    else
        log "E2E_KEEP=1: left projects ${projects[*]}"
    fi
    # Rebuilt images leave their predecessors dangling: the final images, and
    # (classic builder) the build stages of earlier sources. The build stages
    # of this run are tagged schemagate-e2e/build-cache:*, so their layers
    # (the compiled dependencies) stay cached for the next run.
    docker image prune -f --filter label=org.opencontainers.image.title=schemagate >/dev/null 2>&1 || true
    docker image prune -f --filter label=org.opencontainers.image.title=schemagate-e2e-rust >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# ---------------------------------------------------------------- images

log "compose: ${COMPOSE[*]} ($("${COMPOSE[@]}" version --short 2>/dev/null || "${COMPOSE[@]}" version | head -1))"
pg_image=${E2E_POSTGRES_IMAGE:-}
if [[ -z "$pg_image" ]]; then
    log "building the PostgreSQL image from the host's packages"
    pg_image=$("$e2e/build-pg-image.sh") || fatal "build the PostgreSQL image"
fi
log "PostgreSQL image: $pg_image"

rust_image=${E2E_RUST_IMAGE:-}
if [[ -z "$rust_image" ]]; then
    scripts/ensure-deps debootstrap=debootstrap >&2 || fatal "install debootstrap"
    log "building the stand-in Rust image (debootstrap + the host's toolchain; cached)"
    start=$SECONDS
    rust_image=$("$e2e/build-rust-image.sh" 2>"$logdir/build-rust-image.log") || {
        cat "$logdir/build-rust-image.log" >&2
        fatal "build the stand-in Rust image"
    }
    log "Rust image: $rust_image ($((SECONDS - start))s)"
fi
figure "Rust builder base image ($rust_image): $(docker image inspect -f '{{.Size}}' "$rust_image") bytes"
# Build stages that earlier runs kept (schemagate-e2e/build-cache:*, see
# keep_build_cache) on another Rust image are of no more use: untag them, so
# that cleanup's prune frees their layers.
rust_id=$(docker image inspect -f '{{.Id}}' "$rust_image")
for t in $(docker images schemagate-e2e/build-cache --format '{{.Repository}}:{{.Tag}}'); do
    docker history -q --no-trunc "$t" | grep -qxF "$rust_id" || docker rmi "$t" >/dev/null 2>&1
done

# extra_ca_certs BUNDLE IMAGE: the certificates of BUNDLE that IMAGE's own
# bundle lacks (on a machine behind a TLS-intercepting proxy, the proxy's CA).
extra_ca_certs() {
    [[ -r "$1" ]] || return 0
    docker run --rm --network none --entrypoint cat "$2" /etc/ssl/certs/ca-certificates.crt 2>/dev/null |
        awk 'FNR == NR { if (/BEGIN CERT/) b = ""; b = b $0 "\n"; if (/END CERT/) seen[b] = 1; next }
             /BEGIN CERT/ { b = "" } { b = b $0 "\n" } /END CERT/ && !(b in seen) { printf "%s", b }' - "$1"
}
extra_ca=$(extra_ca_certs "${E2E_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}" "$rust_image")
log "EXTRA_CA_CERTS: $(grep -c 'BEGIN CERTIFICATE' <<<"$extra_ca") certificate(s) of the host's bundle that $rust_image lacks"
((${#extra_ca} < 100000)) || fatal "EXTRA_CA_CERTS: the host's extra certificates exceed 100 kB (an environment variable holds at most 128 kB)"

# A clean copy of the repository, as a fresh clone has it: the files git
# knows (tracked, and untracked but not ignored, so that local changes are
# tested), no target/, modes 0644/0755 (a clone under umask 022).
clone=$work/clone
mkdir -p "$clone"
git ls-files -z -co --exclude-standard |
    tar --null --ignore-failed-read -T - -cf - 2>/dev/null | tar -C "$clone" -xf - ||
    fatal "copy the repository to $clone"
chmod -R u=rwX,go=rX "$clone"
[[ -f "$clone/compose.yaml" && -f "$clone/docker/Dockerfile" ]] || fatal "copy the repository (no compose.yaml)"

# The image docker/Dockerfile builds (what `compose up` tags as
# SCHEMAGATE_IMAGE), and the variables the build reads.
df_image=schemagate-e2e/schemagate:dockerfile
export RUST_IMAGE=$rust_image EXTRA_CA_CERTS=$extra_ca
unset SCHEMAGATE_STATIC SCHEMAGATE_VERSION SCHEMAGATE_REVISION SCHEMAGATE_CREATED SCHEMAGATE_SOURCE
cargo_version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -1)

export POSTGRES_IMAGE=$pg_image APP_IMAGE=$pg_image
unset MIGRATIONS_DIR POSTGRES_PASSWORD_SECRET_FILE E2E_TLS_DIR
password=$(cat docker/demo-db-password.txt)

# ---------------------------------------------------------------- helpers

proj=
files=()
# project NAME [OVERRIDE...]: start a fresh compose project for a scenario.
project() {
    proj="sge2e$1$$"
    projects+=("$proj")
    files=(-f compose.yaml)
    local f
    for f in "${@:2}"; do files+=(-f "$e2e/$f"); done
}
compose() { "${COMPOSE[@]}" -p "$proj" "${files[@]}" "$@"; }
# tcompose SECONDS ARGS...: compose with a time limit.
tcompose() { timeout "$1" "${COMPOSE[@]}" -p "$proj" "${files[@]}" "${@:2}"; }
# cids SERVICE: every container of SERVICE, running or not, in index order
# (not the one-off containers of `compose run`).
cids() {
    docker ps -a -q --filter "label=com.docker.compose.project=$proj" \
        --filter "label=com.docker.compose.service=$1" \
        --filter "label=com.docker.compose.oneoff=False" |
        while read -r id; do
            echo "$(docker inspect -f '{{index .Config.Labels "com.docker.compose.container-number"}}' "$id") $id"
        done | sort -n | cut -d' ' -f2
}
cid() { cids "$1" | head -1; }
state() { docker inspect -f "{{.State.$2}}" "$1"; }
exit_code() { state "$1" ExitCode; }
started() { [[ "$(state "$1" StartedAt)" != 0001-01-01T00:00:00Z ]]; }
epoch() { date -d "$1" +%s.%N; }
# psql_db SQL: run a query in the project's db container, unaligned output.
psql_db() { compose exec -T db psql -U app -d app -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
# wait_for SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@" >/dev/null 2>&1; do
        ((SECONDS < deadline)) || return 1
        sleep 0.3
    done
}
later_than() { # later_than T1 T2: T1 > T2 (RFC 3339 timestamps)
    awk -v a="$(epoch "$1")" -v b="$(epoch "$2")" 'BEGIN{exit !(a > b)}'
}
eq() { [[ "$1" == "$2" ]] || { echo "    expected '$2', got '$1'" >&2; return 1; }; }
contains() { grep -q -- "$2" <<<"$1" || { echo "    '$2' not found in output" >&2; return 1; }; }
# snapshot NAME: keep `compose ps -a` and the logs of a scenario.
snapshot() {
    compose ps -a >"$logdir/$1.ps" 2>&1
    compose logs --no-color >"$logdir/$1.log" 2>&1
}
n_files() { ls "$1"/*.sql | wc -l | tr -d ' '; }
never_started() { [[ -z "$1" ]] || ! started "$1"; }
sleepers() {
    psql_db "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(300)%' AND pid <> pg_backend_pid()"
}
has_sleeper() { [[ "$(sleepers)" -ge 1 ]]; }
no_sleeper() { [[ "$(sleepers)" == 0 ]]; }
logs_have() { docker logs "$1" 2>&1 | grep -q -- "$2"; }
# The version column of a history row h, whichever history format the binary
# writes: `version` (format 1) or `migration_version` (format 2).
hver="coalesce(to_jsonb(h)->>'migration_version', to_jsonb(h)->>'version')"

# build_df IMAGE MODE: build docker/Dockerfile in the clean copy as compose
# does (`compose build migrate`), with SCHEMAGATE_STATIC=MODE, tagged IMAGE;
# output on stdout.
build_df() {
    local try out
    for try in 1 2; do
        out=$(cd "$clone" && SCHEMAGATE_IMAGE=$1 SCHEMAGATE_STATIC=$2 \
            timeout "${E2E_BUILD_TIMEOUT:-1500}" "${COMPOSE[@]}" -p "sge2ebuild$$" build migrate 2>&1)
        local rc=$?
        ((rc != 0)) && raced <(echo "$out") && ((try == 1)) && continue
        echo "$out"
        return $rc
    done
}
# raced LOG: the classic builder lost a cached layer while it built ("No such
# image: sha256:..."): an image removal (a prune, another suite's cleanup)
# elsewhere on the engine deleted it. Not a fault of the build; worth one retry.
raced() { grep -q 'No such image: sha256:' "$1"; }
# keep_build_cache LOG NAME: tag the build stage that the classic builder
# made (the image id before "FROM scratch" in LOG) schemagate-e2e/build-cache:NAME,
# so that cleanup's prune spares its layers: the compiled dependencies stay
# cached for the next run. Prints its size. BuildKit keeps its own cache.
keep_build_cache() {
    local id
    id=$(awk '/^Step [0-9]+\/[0-9]+ : FROM scratch/ { print last; exit } /^ ---> [0-9a-f]+$/ { last = $2 }' "$1")
    [[ -n "$id" ]] && docker tag "$id" "schemagate-e2e/build-cache:$2" >/dev/null 2>&1 &&
        docker image inspect -f '{{.Size}}' "$id"
}
# compiled LOG: the crates cargo compiled, from a build log (compose v1 puts
# colour codes where it switches between a step's stdout and stderr).
compiled() { sed 's/\x1b\[[0-9;]*m//g' "$1" | grep -o 'Compiling [^ ]*' | cut -d' ' -f2; }
# binary_of IMAGE DEST: copy /schemagate out of IMAGE.
binary_of() {
    local c
    c=$(docker create --entrypoint /schemagate "$1") || return 1
    docker cp "$c:/schemagate" "$2" >/dev/null
    local rc=$?
    docker rm "$c" >/dev/null
    return $rc
}
# cargo_times LOG: cargo's "Finished ... in" times in a build log (the
# dependencies' layer, then schemagate's).
cargo_times() { sed 's/\x1b\[[0-9;]*m//g' "$1" | sed -n 's/.*Finished .* in //p' | paste -sd'|' | sed 's/|/ + /g'; }
binary_kind() { if file -b "$1" | grep -q 'GNU/Linux'; then echo gnu; else echo musl; fi; }
label() { docker image inspect -f "{{index .Config.Labels \"org.opencontainers.image.$2\"}}" "$1"; }
mb() { awk -v s="$1" 'BEGIN{printf "%.2f MB", s/1e6}'; }

# The image the scenarios after quickstart run: docker/build-image.sh
# (Dockerfile.prebuilt) around the binary docker/Dockerfile built, or
# SCHEMAGATE_BINARY.
sg_image=
sg_failed=
binary=${SCHEMAGATE_BINARY:-}
need_sg_image() {
    [[ -n "$sg_image" ]] && return 0
    [[ -z "$sg_failed" ]] || return 1
    sg_failed=1
    if [[ -z "$binary" ]]; then
        need_df_image || return 1
        binary=$work/schemagate
        binary_of "$df_image" "$binary" || return 1
    fi
    docker/build-image.sh -t schemagate-e2e/schemagate:test --binary "$binary" >/dev/null 2>"$logdir/build-image.log" || {
        cat "$logdir/build-image.log" >&2
        return 1
    }
    sg_image=schemagate-e2e/schemagate:test
    sg_failed=
    log "schemagate image: $sg_image ($(tail -1 "$logdir/build-image.log"))"
}

# ---------------------------------------------------------------- scenarios

# check_context: what compose sends as docker/Dockerfile's build context
# from a checkout with a 50 MB target/ in it: exactly the files the build
# copies (the .dockerignore allow-list), read back from a probe image.
check_context() {
    local probe=schemagate-e2e/context-probe:$$ c files want size
    mkdir -p "$clone/target/release"
    head -c 50000000 /dev/zero >"$clone/target/release/e2e-junk"
    printf 'FROM scratch\nCOPY . /ctx/\n' >"$clone/e2e-context.Dockerfile"
    printf 'services:\n  probe:\n    image: %s\n    build:\n      context: .\n      dockerfile: e2e-context.Dockerfile\n' \
        "$probe" >"$clone/e2e-context.yaml"
    (cd "$clone" && "${COMPOSE[@]}" -p "sge2ectx$$" -f e2e-context.yaml build) >"$logdir/context.log" 2>&1
    size=$(docker image inspect -f '{{.Size}}' "$probe" 2>/dev/null)
    if c=$(docker create --entrypoint /x "$probe" 2>/dev/null); then
        files=$(docker export "$c" | tar -t | sed -n 's#^ctx/##p' | grep -Ev '^$|/$' | sort)
        docker rm "$c" >/dev/null
    fi
    docker rmi "$probe" >/dev/null 2>&1
    rm -rf "$clone/target" "$clone/e2e-context.Dockerfile" "$clone/e2e-context.yaml"
    want=$(cd "$clone" && find Cargo.toml Cargo.lock src docker/build-static.sh -type f | sort)
    echo "    build context: ${size:-?} bytes, $(wc -l <<<"$files") files (beside a 50 MB target/)"
    figure "build context sent by ${COMPOSE[*]}: ${size:-?} bytes ($(mb "${size:-0}")) with a 50 MB target/ present"
    check "quickstart: the build context is exactly what docker/Dockerfile copies (.dockerignore)" eq "$files" "$want"
    check "quickstart: the build context is under 2 MB with a target/ present" test "${size:-99999999}" -lt 2000000
    check "quickstart: no docker/Dockerfile.dockerignore (BuildKit would read it instead of .dockerignore)" \
        test ! -e docker/Dockerfile.dockerignore
}

# interrupt PID: Ctrl-C on an attached `compose up`; waits up to 60 s for it to end.
interrupt() {
    kill -INT "$1" 2>/dev/null
    local i
    for i in $(seq 60); do kill -0 "$1" 2>/dev/null || break; sleep 1; done
    ! kill -0 "$1" 2>/dev/null || { kill -KILL "$1"; return 1; }
    wait "$1" 2>/dev/null
    return 0
}
n_started() { docker logs "$1" 2>&1 | grep -c 'app: started'; }
gone() { # gone KIND: nothing of KIND (container, volume, network) left with the project's label
    case $1 in
        container) [[ -z "$(docker ps -aq --filter "label=com.docker.compose.project=$proj")" ]] ;;
        *) [[ -z "$(docker "$1" ls -q --filter "label=com.docker.compose.project=$proj")" ]] ;;
    esac
}

scenario_quickstart() {
    # The README's quickstart, as a new user runs it in a fresh clone: the
    # first `up` builds docker/Dockerfile (the Rust image is a stand-in, the
    # proxy's CA goes in through EXTRA_CA_CERTS), app starts, Ctrl-C, `up`
    # again (nothing to apply), Ctrl-C, `down -v`.
    check_context
    project quickstart
    cd "$clone" || return
    export SCHEMAGATE_IMAGE=$df_image
    docker rmi -f "$df_image" >/dev/null 2>&1
    local out=$logdir/quickstart-up.log out2=$logdir/quickstart-rerun.log pid t0 built= m a size kind n
    qs_rebuild=
    local try
    for try in 1 2; do
        log "quickstart: ${COMPOSE[*]} up (the first one builds docker/Dockerfile)"
        t0=$SECONDS
        "${COMPOSE[@]}" -p "$proj" up >"$out" 2>&1 &
        pid=$!
        local deadline=$((SECONDS + ${E2E_BUILD_TIMEOUT:-1500}))
        until grep -q 'app: started' "$out"; do
            [[ -z "$built" ]] && docker image inspect "$df_image" >/dev/null 2>&1 && built=$((SECONDS - t0))
            kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)) || break
            sleep 1
        done
        [[ -z "$built" ]] && docker image inspect "$df_image" >/dev/null 2>&1 && built=$((SECONDS - t0))
        [[ -z "$built" ]] && raced "$out" || break
        log "quickstart: the build lost a cached layer to an image removal elsewhere on this engine; once more"
        interrupt "$pid"
        tcompose 60 down -v >/dev/null 2>&1
    done
    snapshot quickstart
    n=$(compiled "$out" | wc -l)
    check "quickstart: the first up built $df_image from docker/Dockerfile" test -n "$built"
    if [[ -z "$built" ]]; then
        grep -E 'error|Error|failed|FAIL' "$out" | tail -15
        interrupt "$pid"
        return
    fi
    size=$(docker image inspect -f '{{.Size}}' "$df_image")
    binary_of "$df_image" "$work/df-schemagate" && kind=$(binary_kind "$work/df-schemagate")
    case $n in
        0) figure "first up: ${built}s (every layer cached by an earlier run: not a build time)" ;;
        1)
            # Sources changed since the last run, dependencies cached: this
            # was the rebuild that scenario rebuild would otherwise make.
            qs_rebuild="$(compiled "$out")"
            figure "rebuild after a source change (first up, dependencies cached by an earlier run): ${built}s (cargo: $(cargo_times "$out"))"
            ;;
        *) figure "first build (${COMPOSE[*]} up, Rust base image present): ${built}s ($n crates compiled; cargo: $(cargo_times "$out"))" ;;
    esac
    figure "$kind image from docker/Dockerfile: $size bytes ($(mb "$size"))"
    n=$(keep_build_cache "$out" auto) && figure "builder stage (base + toolchain + compiled dependencies): $n bytes"
    check "quickstart: the build trusted the extra CA certificates" bash -c \
        "[[ -z \"\$EXTRA_CA_CERTS\" ]] || grep -q 'extra CA certificate(s) (EXTRA_CA_CERTS)' '$out'"
    check "quickstart: label version is Cargo.toml's ($cargo_version), revision unknown" eq \
        "$(label "$df_image" version) $(label "$df_image" revision)" "$cargo_version unknown"
    m=$(cid migrate); a=$(cid app)
    check "quickstart: migrate exited 0" eq "$(exit_code "$m")" 0
    check "quickstart: app started after migrate finished" later_than "$(state "$a" StartedAt)" "$(state "$m" FinishedAt)"
    check "quickstart: the output shows the migrations applied" contains "$(cat "$out")" "applied $(n_files migrations) migration(s)"
    check "quickstart: the output shows app's query and 'app: started'" bash -c \
        "grep -q demo@example.com '$out' && grep -q 'app: started' '$out'"
    interrupt "$pid"
    check "quickstart: Ctrl-C ends up and stops the services" eq "$?|$(state "$a" Running)|$(state "$m" Running)" "0|false|false"
    # `up` again: migrate runs again, finds nothing to apply, app starts again.
    "${COMPOSE[@]}" -p "$proj" up >"$out2" 2>&1 &
    pid=$!
    wait_for 180 bash -c "[[ \$(docker logs $a 2>&1 | grep -c 'app: started') -ge 2 ]]"
    snapshot quickstart-rerun
    check "quickstart: rerun: app started again" eq "$(n_started "$a")" 2
    check "quickstart: rerun: migrate exited 0 with nothing to apply" eq \
        "$(exit_code "$m")|$(grep -c 'nothing to apply' "$out2")" "0|1"
    check "quickstart: rerun: nothing rebuilt" bash -c "! grep -q 'Compiling' '$out2'"
    check "quickstart: rerun: each migration recorded once" eq \
        "$(psql_db "SELECT count(*), count(DISTINCT $hver) FROM schemagate_history h")" \
        "$(n_files migrations)|$(n_files migrations)"
    interrupt "$pid"
    check "quickstart: rerun: Ctrl-C ends it" eq "$?" 0
    tcompose 120 down -v >"$logdir/quickstart-down.log" 2>&1
    check "quickstart: down -v exits 0" eq "$?" 0
    check "quickstart: down -v leaves no container, volume or network" bash -c \
        "$(declare -f gone); proj=$proj; gone container && gone volume && gone network"
}

qs_rebuild=
scenario_rebuild() {
    # A one-line change in src/: `up` alone reuses the old image (the
    # README's warning); `up --build` rebuilds, compiling schemagate only, the
    # dependencies coming from the cached layer. When the quickstart's own
    # build was such a rebuild (sources changed since the last run), that is
    # not done twice. Then the sources are put back: the build stage is all
    # cache, and the label variables reach the labels.
    need_df_image || return
    project rebuild
    cd "$clone" || return
    export SCHEMAGATE_IMAGE=$df_image
    local old new out t0 t rev created
    old=$(docker image inspect -f '{{.Id}}' "$df_image")
    cp -p src/main.rs "$work/main.rs.orig"
    # A change that reaches the binary: the build is reproducible, so a
    # comment alone would give the same bytes, the same layer and the same
    # image ID.
    sed -i 's/please report it/please report it (e2e rebuild)/' src/main.rs
    grep -q 'e2e rebuild' src/main.rs || { fail "rebuild: src/main.rs has no 'please report it' to change"; return; }
    out=$(tcompose 240 up -d 2>&1)
    check "rebuild: up without --build reuses the old image" eq \
        "$(docker image inspect -f '{{.Id}}' "$df_image")|$(grep -c 'Compiling' <<<"$out")" "$old|0"
    if [[ "$qs_rebuild" == schemagate ]]; then
        ok "rebuild: only schemagate compiled (dependencies from the cached layer), in the quickstart's up"
    else
        t0=$SECONDS
        tcompose "${E2E_BUILD_TIMEOUT:-1500}" up -d --build >"$logdir/rebuild-build.log" 2>&1
        check "rebuild: up --build exits 0" eq "$?" 0
        t=$((SECONDS - t0))
        new=$(docker image inspect -f '{{.Id}}' "$df_image")
        snapshot rebuild
        check "rebuild: a new image" test "$new" != "$old"
        check "rebuild: only schemagate compiled (dependencies from the cached layer)" eq \
            "$(compiled "$logdir/rebuild-build.log" | tr '\n' ' ')" "schemagate "
        check "rebuild: migrate from the new image exited 0" eq \
            "$(docker inspect -f '{{.Image}}' "$(cid migrate)")|$(exit_code "$(cid migrate)")" "$new|0"
        figure "rebuild after a one-line change in src/ (up -d --build, incl. starting the services): ${t}s (cargo: $(cargo_times "$logdir/rebuild-build.log"))"
    fi
    cp -p "$work/main.rs.orig" src/main.rs
    rev=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo e2e)
    created=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    SCHEMAGATE_REVISION=$rev SCHEMAGATE_CREATED=$created SCHEMAGATE_SOURCE=https://example.com/schemagate \
        build_df "$df_image" auto >"$logdir/rebuild-back.log"
    check "rebuild: sources put back: the build is all cache" eq "$?|$(compiled "$logdir/rebuild-back.log" | wc -l)" "0|0"
    check "rebuild: labels from SCHEMAGATE_REVISION, _CREATED, _SOURCE" eq \
        "$(label "$df_image" revision) $(label "$df_image" created) $(label "$df_image" source)" \
        "$rev $created https://example.com/schemagate"
    keep_build_cache "$logdir/rebuild-back.log" auto >/dev/null
}
need_df_image() {
    docker image inspect "$df_image" >/dev/null 2>&1 && return 0
    build_df "$df_image" auto >"$logdir/build-dockerfile.log" && {
        keep_build_cache "$logdir/build-dockerfile.log" auto >/dev/null
        return 0
    }
    tail -30 "$logdir/build-dockerfile.log" >&2
    fail "build docker/Dockerfile"
    return 1
}

# failed_step LOG: the last build step a (classic builder) log shows.
failed_step() { sed 's/\x1b\[[0-9;]*m//g' "$1" | grep '^Step [0-9]' | tail -1; }
scenario_buildfail() {
    # A build that fails says why, at the step that failed (it used to end
    # with "cp: cannot stat ''"): a Cargo.toml cargo cannot read stops the
    # dependencies' step with cargo's message; a syntax error stops the last
    # step with rustc's.
    need_df_image || return
    local c=$work/clone-fail out rc
    rm -rf "$c" && cp -a "$clone" "$c" || return
    echo 'this is not TOML' >>"$c/Cargo.toml"
    out=$logdir/buildfail-manifest.log
    (cd "$c" && SCHEMAGATE_IMAGE=schemagate-e2e/schemagate:fail timeout 600 \
        "${COMPOSE[@]}" -p "sge2efail$$" build --force-rm migrate) >"$out" 2>&1; rc=$?
    sed -i 's/\x1b\[[0-9;]*m//g' "$out"
    check "buildfail: a broken Cargo.toml fails the build" test "$rc" -ne 0
    check "buildfail: at the 'cargo fetch' step" contains "$(failed_step "$out")" 'cargo fetch --locked'
    check "buildfail: with cargo's message, not 'cp: cannot stat'" bash -c \
        "grep -q 'error: .*' '$out' && grep -q -- '--> Cargo.toml:' '$out' && ! grep -q 'cannot stat' '$out'"
    cp -p "$clone/Cargo.toml" "$c/Cargo.toml"
    echo 'fn broken( {' >>"$c/src/lib.rs"
    out=$logdir/buildfail-syntax.log
    (cd "$c" && SCHEMAGATE_IMAGE=schemagate-e2e/schemagate:fail timeout 900 \
        "${COMPOSE[@]}" -p "sge2efail$$" build --force-rm migrate) >"$out" 2>&1; rc=$?
    sed -i 's/\x1b\[[0-9;]*m//g' "$out"
    check "buildfail: a syntax error fails the build" test "$rc" -ne 0
    check "buildfail: at the last step (build-static.sh)" contains "$(failed_step "$out")" 'docker/build-static.sh)'
    check "buildfail: with rustc's message, not 'cp: cannot stat'" bash -c \
        "grep -q -- '--> src/lib.rs:' '$out' && grep -q 'could not compile .schemagate.' '$out' && ! grep -q 'cannot stat' '$out'"
    check "buildfail: no image tagged" bash -c "! docker image inspect schemagate-e2e/schemagate:fail >/dev/null 2>&1"
}

scenario_image() {
    local size
    size=$(docker image inspect -f '{{.Size}}' "$sg_image")
    echo "    image size: $size bytes ($(mb "$size"))"
    check "image: at most 6 MB ($size bytes)" test "$size" -le 6000000
    check "image: USER 65532:65532" eq "$(docker image inspect -f '{{.Config.User}}' "$sg_image")" 65532:65532
    check "image: ENTRYPOINT [/schemagate] CMD [run]" eq \
        "$(docker image inspect -f '{{json .Config.Entrypoint}} {{json .Config.Cmd}}' "$sg_image")" '["/schemagate"] ["run"]'
    check "image: OCI labels" eq "$(label "$sg_image" title) $(label "$sg_image" version)" "schemagate $cargo_version"
    check "image: no shell inside (FROM scratch)" bash -c \
        "! docker run --rm --entrypoint /bin/sh $sg_image -c true >/dev/null 2>&1"
    # The offline Dockerfile must be the user Dockerfile's final stage.
    local a b f
    a=$(sed -n '/^FROM scratch$/,$p' docker/Dockerfile | sed 's#COPY --from=build /out/#COPY #')
    b=$(sed -n '/^FROM scratch$/,$p' docker/Dockerfile.prebuilt)
    check "image: Dockerfile.prebuilt matches Dockerfile's final stage" eq "$a" "$b"
    # And the images agree: the same configuration (and, around the same
    # binary, the same size) whichever way they were built.
    if docker image inspect "$df_image" >/dev/null 2>&1; then
        f='{{.Config.User}} {{json .Config.Entrypoint}} {{json .Config.Cmd}} {{json .Config.Env}} {{.Config.WorkingDir}} {{index .Config.Labels "org.opencontainers.image.title"}} {{index .Config.Labels "org.opencontainers.image.version"}} {{index .Config.Labels "org.opencontainers.image.base.name"}}'
        check "image: build-image.sh and docker/Dockerfile give the same configuration" eq \
            "$(docker image inspect -f "$f" "$sg_image")" "$(docker image inspect -f "$f" "$df_image")"
        [[ -n "${SCHEMAGATE_BINARY:-}" ]] ||
            check "image: and the same size around the same binary" eq "$size" "$(docker image inspect -f '{{.Size}}' "$df_image")"
    fi
}

scenario_happy() {
    project happy
    local out rc m a
    out=$(tcompose 240 up -d 2>&1); rc=$?
    snapshot happy
    check "happy: docker compose up exits 0" eq "$rc" 0 || echo "$out" | tail -20
    m=$(cid migrate); a=$(cid app)
    check "happy: migrate exited 0" eq "$(exit_code "$m")" 0
    check "happy: app started" started "$a"
    check "happy: app started after migrate finished" later_than "$(state "$a" StartedAt)" "$(state "$m" FinishedAt)"
    check "happy: app prints the migrated schema" wait_for 30 logs_have "$a" demo@example.com
    check "happy: every migration recorded once" eq \
        "$(psql_db "SELECT count(*), count(DISTINCT $hver) FROM schemagate_history h WHERE success")" \
        "$(n_files migrations)|$(n_files migrations)"
    check "happy: tables exist" eq "$(psql_db "SELECT to_regclass('users') IS NOT NULL AND to_regclass('orders') IS NOT NULL")" t
    # A second `up` reruns migrate: nothing pending, exit 0, nothing applied.
    tcompose 120 up -d >/dev/null 2>&1
    check "happy: rerun is a no-op" eq "$(exit_code "$m")|$(psql_db 'SELECT count(*) FROM schemagate_history')" \
        "0|$(n_files migrations)"
    snapshot happy
    check "happy: docker compose ps -a shows migrate Exit 0 and app Up" bash -c \
        "grep -qE 'migrate.*Exit(ed \(0\)| 0)' '$logdir/happy.ps' && grep -E '_app_|-app-' '$logdir/happy.ps' | grep -q Up"
}

scenario_broken() {
    project broken
    export MIGRATIONS_DIR=./$e2e/migrations/broken
    local out rc m a logs
    out=$(tcompose 240 up -d 2>&1); rc=$?
    snapshot broken
    check "broken: docker compose up fails" test "$rc" -ne 0
    m=$(cid migrate); a=$(cid app)
    check "broken: migrate exited 5" eq "$(exit_code "$m")" 5
    check "broken: app never started" never_started "$a"
    logs=$(compose logs --no-color migrate 2>&1)
    check "broken: logs name the file" contains "$logs" 0002_broken.sql
    check "broken: logs give the SQLSTATE" contains "$logs" 42601
    check "broken: logs give line 3" contains "$logs" 'failed at line 3, column 1'
    check "broken: 0001 applied, 0002 rolled back" eq \
        "$(psql_db "SELECT string_agg($hver, ',' ORDER BY $hver) FROM schemagate_history h")|$(psql_db "SELECT to_regclass('e2e_widgets') IS NOT NULL, to_regclass('e2e_gadgets') IS NULL")" \
        "1|t|t"
    unset MIGRATIONS_DIR
}

scenario_slowdb() {
    project slowdb compose.slow-db.yaml
    export E2E_DB_DELAY=8
    local rc m a d
    tcompose 240 up -d >/dev/null 2>&1; rc=$?
    snapshot slowdb
    m=$(cid migrate); a=$(cid app)
    check "slowdb: docker compose up exits 0" eq "$rc" 0
    check "slowdb: migrate exited 0" eq "$(exit_code "$m")" 0
    d=$(awk -v a="$(epoch "$(state "$m" StartedAt)")" -v b="$(epoch "$(state "$m" FinishedAt)")" 'BEGIN{printf "%.1f", b-a}')
    echo "    migrate ran ${d}s against a DB delayed by ${E2E_DB_DELAY}s"
    check "slowdb: migrate waited for the DB (ran ${d}s >= ${E2E_DB_DELAY}s)" awk -v d="$d" -v w="$E2E_DB_DELAY" 'BEGIN{exit !(d >= w)}'
    check "slowdb: app started after migrate" later_than "$(state "$a" StartedAt)" "$(state "$m" FinishedAt)"
    check "slowdb: all migrations applied" eq "$(psql_db 'SELECT count(*) FROM schemagate_history WHERE success')" "$(n_files migrations)"
    unset E2E_DB_DELAY
}

scenario_scale() {
    # Three runners at once. migrations/concurrent makes them overlap for
    # sure: 0001 holds the lock for 3 s, so the others are waiting for it
    # when 0002 (CREATE INDEX CONCURRENTLY, no transaction) runs.
    project scale
    export MIGRATIONS_DIR=./$e2e/migrations/concurrent
    local rc ids codes m last waited
    tcompose 240 up -d --scale migrate=3 db migrate >/dev/null 2>&1; rc=$?
    # Without app nothing waits for migrate: wait for the three to exit.
    mapfile -t ids < <(cids migrate)
    ((${#ids[@]})) && timeout 120 docker wait "${ids[@]}" >/dev/null
    snapshot scale
    check "scale: docker compose up --scale migrate=3 exits 0" eq "$rc" 0
    codes=$(for m in "${ids[@]}"; do exit_code "$m"; done | tr '\n' ' ')
    check "scale: three migrate containers, all exit 0" eq "$codes" "0 0 0 "
    check "scale: each migration applied once" eq \
        "$(psql_db "SELECT count(*), count(DISTINCT $hver) FROM schemagate_history h")" \
        "$(n_files "$MIGRATIONS_DIR")|$(n_files "$MIGRATIONS_DIR")"
    check "scale: the index and the view exist" eq \
        "$(psql_db "SELECT to_regclass('e2e_widgets_name_idx') IS NOT NULL, to_regclass('e2e_widget_names') IS NOT NULL")" "t|t"
    waited=$(grep -c 'waiting for the migration lock' "$logdir/scale.log")
    echo "    lock-wait lines in the logs: $waited"
    check "scale: the runners really overlapped (someone waited for the lock)" test "$waited" -ge 1
    unset MIGRATIONS_DIR
    # The gate with several runners, on the example migrations.
    project scaleapp
    tcompose 240 up -d --scale migrate=3 >/dev/null 2>&1; rc=$?
    snapshot scaleapp
    mapfile -t ids < <(cids migrate)
    codes=$(for m in "${ids[@]}"; do exit_code "$m"; done | tr '\n' ' ')
    check "scale: with app, up exits 0 and all three exit 0" eq "$rc|$codes" "0|0 0 0 "
    last=$(for m in "${ids[@]}"; do state "$m" FinishedAt; done | sort | tail -1)
    check "scale: app started after all three finished" later_than "$(state "$(cid app)" StartedAt)" "$last"
}

scenario_verifywait() {
    # The Kubernetes pattern of deploy/k8s/job-and-app: app Pods gate on
    # `schemagate verify --wait` while one Job migrates. Two verifiers start
    # first (no history table yet), then one runner applies
    # migrations/concurrent, whose CREATE INDEX CONCURRENTLY must not be held
    # up by the verifiers' polling.
    project verifywait
    export MIGRATIONS_DIR=./$e2e/migrations/concurrent
    local v1 v2 m codes
    tcompose 120 up -d db >/dev/null 2>&1
    v1=$(tcompose 60 run -d -T --no-deps -e SCHEMAGATE_WAIT_TIMEOUT=90s migrate verify --wait 2>/dev/null | tail -1)
    v2=$(tcompose 60 run -d -T --no-deps -e SCHEMAGATE_WAIT_TIMEOUT=90s migrate verify --wait 2>/dev/null | tail -1)
    sleep 3
    check "verifywait: verifiers are still waiting before the migration" eq \
        "$(state "$v1" Running) $(state "$v2" Running)" "true true"
    tcompose 120 up -d --no-deps migrate >/dev/null 2>&1
    m=$(cid migrate)
    timeout 120 docker wait "$m" "$v1" "$v2" >/dev/null
    snapshot verifywait
    docker logs "$v1" >"$logdir/verifywait-v1.log" 2>&1
    codes="$(exit_code "$m") $(exit_code "$v1") $(exit_code "$v2")"
    check "verifywait: migrate and both verify --wait exit 0" eq "$codes" "0 0 0"
    check "verifywait: the verifiers finished after migrate" later_than \
        "$(state "$v1" FinishedAt)" "$(state "$m" FinishedAt)"
    docker rm -f "$v1" "$v2" >/dev/null 2>&1
    unset MIGRATIONS_DIR
}

scenario_stop() {
    project stop
    export MIGRATIONS_DIR=./$e2e/migrations/slow
    local m t0 t1 el
    tcompose 120 up -d db migrate >/dev/null 2>&1
    m=$(cid migrate)
    if ! wait_for 90 has_sleeper; then
        snapshot stop
        fail "stop: the long migration never started"
        unset MIGRATIONS_DIR
        return
    fi
    t0=$(date +%s.%N)
    compose stop -t 20 migrate >/dev/null 2>&1
    t1=$(date +%s.%N)
    el=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')
    snapshot stop
    echo "    docker compose stop took ${el}s (grace period 20s)"
    check "stop: migrate exited 143 (SIGTERM handled as PID 1)" eq "$(exit_code "$m")" 143
    check "stop: within the grace period (${el}s < 20s)" awk -v e="$el" 'BEGIN{exit !(e < 20)}'
    check "stop: 0002 rolled back, 0001 kept" eq \
        "$(psql_db "SELECT string_agg($hver, ',' ORDER BY $hver) FROM schemagate_history h")|$(psql_db "SELECT to_regclass('e2e_gadgets') IS NULL")" \
        "1|t"
    check "stop: the pg_sleep backend is gone" wait_for 10 no_sleeper
    check "stop: no advisory lock left" eq "$(psql_db "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")" 0
    unset MIGRATIONS_DIR
}

make_tls() {
    local dir=$1 pg_uid
    mkdir -p "$dir/server" "$dir/other"
    (
        cd "$dir" || exit 1
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=schemagate e2e CA" \
            -keyout ca.key -out ca.crt
        openssl req -newkey rsa:2048 -nodes -subj "/CN=db" -keyout server/server.key -out server.csr
        printf 'subjectAltName=DNS:db\nextendedKeyUsage=serverAuth\n' >server.ext
        openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
            -extfile server.ext -out server/server.crt
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=some other CA" \
            -keyout other/ca.key -out other/ca.crt
    ) >"$logdir/tls-openssl.log" 2>&1 || return 1
    cat >"$dir/server/pg_hba.conf" <<'HBA'
local     all all     trust
hostssl   all all all scram-sha-256
hostnossl all all all reject
HBA
    # PostgreSQL wants its key owned by the server's user and private.
    pg_uid=$(docker run --rm --entrypoint id "$POSTGRES_IMAGE" -u postgres) || return 1
    chown -R "$pg_uid" "$dir/server" && chmod 0600 "$dir/server/server.key"
    chmod 0644 "$dir/ca.crt" "$dir/other/ca.crt"
}

scenario_tls() {
    if ! make_tls "$work/tls"; then fail "tls: make certificates"; return; fi
    export E2E_TLS_DIR=$work/tls
    project tls compose.tls.yaml
    local rc m code
    tcompose 240 up -d >/dev/null 2>&1; rc=$?
    snapshot tls
    m=$(cid migrate)
    check "tls: docker compose up exits 0" eq "$rc" 0
    check "tls: migrate with sslmode=verify-full exited 0" eq "$(exit_code "$m")" 0
    check "tls: the app (libpq, verify-full) started" wait_for 30 logs_have "$(cid app)" "app: started"
    check "tls: the DB is TLS-only" eq "$(psql_db "SELECT count(*) FROM pg_hba_file_rules WHERE type = 'host'")" 0
    tcompose 60 run --rm -T --no-deps -e POSTGRES_SSLMODE=disable -e SCHEMAGATE_WAIT_TIMEOUT=5s migrate \
        >"$logdir/tls-disable.log" 2>&1; code=$?
    check "tls: sslmode=disable is refused (exit 3)" eq "$code" 3
    tcompose 60 run --rm -T --no-deps -v "$work/tls/other/ca.crt:/tls/other-ca.crt:ro" \
        -e POSTGRES_SSLROOTCERT=/tls/other-ca.crt -e SCHEMAGATE_WAIT_TIMEOUT=5s migrate \
        >"$logdir/tls-wrong-ca.log" 2>&1; code=$?
    check "tls: verify-full with the wrong CA fails (exit 3)" eq "$code" 3
    unset E2E_TLS_DIR
}

scenario_readonly() {
    project readonly compose.readonly.yaml
    local rc m
    tcompose 240 up -d >/dev/null 2>&1; rc=$?
    snapshot readonly
    m=$(cid migrate)
    check "readonly: docker compose up exits 0" eq "$rc" 0
    check "readonly: ran as 65532:65532 on a read-only rootfs, no capabilities" eq \
        "$(docker inspect -f '{{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{.HostConfig.CapDrop}}' "$m")" \
        "65532:65532 true [ALL]"
    check "readonly: migrate exited 0" eq "$(exit_code "$m")" 0
    check "readonly: app started" started "$(cid app)"
    check "readonly: all migrations applied" eq "$(psql_db 'SELECT count(*) FROM schemagate_history WHERE success')" "$(n_files migrations)"
}

scenario_configmap() {
    # Kubernetes mounts a ConfigMap as symlinks into a hidden timestamped
    # directory: NAME -> ..data/NAME, ..data -> ..2024_..., so the files
    # schemagate lists are symlinks and there are dot-directories beside them.
    local cm=$work/configmap ts=..2026_01_01_00_00_00.000000001 f rc m code
    mkdir -p "$cm/$ts"
    cp migrations/*.sql "$cm/$ts/"
    ln -s "$ts" "$cm/..data"
    for f in migrations/*.sql; do ln -s "..data/$(basename "$f")" "$cm/$(basename "$f")"; done
    chmod -R a+rX "$cm"
    project configmap compose.readonly.yaml
    export MIGRATIONS_DIR=$cm
    tcompose 240 up -d >/dev/null 2>&1; rc=$?
    snapshot configmap
    m=$(cid migrate)
    check "configmap: migrations from a ConfigMap-style mount apply (exit 0)" eq "$rc|$(exit_code "$m")" "0|0"
    check "configmap: each file applied once" eq "$(psql_db 'SELECT count(*) FROM schemagate_history WHERE success')" "$(n_files migrations)"
    tcompose 60 run --rm -T --no-deps migrate verify >"$logdir/configmap-verify.log" 2>&1; code=$?
    check "configmap: verify against the same mount exits 0" eq "$code" 0
    unset MIGRATIONS_DIR
}

scenario_libc() {
    # The other scenarios run the static binary docker/Dockerfile preferred
    # (musl when the target could be added). Build the other libc's with
    # docker/Dockerfile too (SCHEMAGATE_STATIC) and check that it resolves
    # the compose service name `db` in a FROM scratch container (no
    # nsswitch.conf, no libnss_*.so) and migrates.
    local kind other img rc m size out=$logdir/build-libc.log
    kind=$(binary_kind "$binary")
    other=$([[ $kind == gnu ]] && echo musl || echo gnu)
    img=schemagate-e2e/schemagate:dockerfile-$other
    echo "    main binary: $kind; now building the $other one (docker/Dockerfile, SCHEMAGATE_STATIC=$other)"
    if ! build_df "$img" "$other" >"$out"; then
        if [[ $other == musl ]] && grep -q 'rustup target add' "$out"; then
            echo "    (the musl target cannot be added here: only static glibc was tested)"
            ok "libc: musl unavailable here; static glibc covered by the other scenarios"
        else
            tail -30 "$out" >&2
            fail "libc: build the static $other image"
        fi
        return
    fi
    keep_build_cache "$out" "$other" >/dev/null
    size=$(docker image inspect -f '{{.Size}}' "$img")
    figure "$other image from docker/Dockerfile (SCHEMAGATE_STATIC=$other): $size bytes ($(mb "$size")); cargo: $(cargo_times "$out")"
    check "libc: the $other image is at most 6 MB" test "$size" -le 6000000
    check "libc: the binary is the $other one" eq "$(binary_of "$img" "$work/$other" && binary_kind "$work/$other")" "$other"
    project libc
    SCHEMAGATE_IMAGE=$img tcompose 240 up -d >/dev/null 2>&1; rc=$?
    snapshot libc
    m=$(cid migrate)
    check "libc: static $other binary resolves 'db' in FROM scratch and migrates" eq "$rc|$(exit_code "$m")" "0|0"
    check "libc: the container ran the $other image" eq "$(docker inspect -f '{{.Config.Image}}' "$m")" "$img"
}

scenario_umask() {
    # A clone made under umask 077: the files are 0600 and the directories
    # 0700, so neither db (postgres, uid 999) nor migrate (65532) can read the
    # password secret, which compose mounts as it is on the host. The README
    # says so; this checks that it is so and what the user sees.
    local c=$work/clone077 rc m d
    cp -a "$clone" "$c" && chmod -R go-rwx "$c"
    project umask
    cd "$c" || return
    tcompose 120 up -d >"$logdir/umask-up.log" 2>&1; rc=$?
    m=$(cid migrate); d=$(cid db)
    [[ -n "$m" ]] && timeout 60 docker wait "$m" >/dev/null
    snapshot umask
    check "umask: up fails" test "$rc" -ne 0
    check "umask: migrate fails (exit 2) saying Permission denied" eq \
        "$(exit_code "$m")|$(docker logs "$m" 2>&1 | grep -c 'Permission denied')" "2|1"
    check "umask: db says Permission denied" wait_for 30 logs_have "$d" 'Permission denied'
    check "umask: app never started" never_started "$(cid app)"
    # The README's fix.
    tcompose 60 down -v >/dev/null 2>&1
    chmod a+r docker/demo-db-password.txt && chmod -R a+rX migrations
    tcompose 120 up -d >"$logdir/umask-fixed.log" 2>&1; rc=$?
    snapshot umask-fixed
    check "umask: after chmod a+r docker/demo-db-password.txt and chmod -R a+rX migrations, up works" eq \
        "$rc|$(exit_code "$(cid migrate)")" "0|0"
}

for s in "${selected[@]}"; do
    if ! declare -F "scenario_$s" >/dev/null; then
        fail "unknown scenario $s (known: ${all[*]})"
        continue
    fi
    log "scenario $s"
    start=$SECONDS
    case $s in
        quickstart | rebuild | buildfail) ;;
        *)
            if ! need_sg_image; then
                fail "$s: no schemagate image (build-image.sh around the docker/Dockerfile binary failed)"
                continue
            fi
            export SCHEMAGATE_IMAGE=$sg_image
            ;;
    esac
    "scenario_$s"
    log "scenario $s took $((SECONDS - start))s"
    if [[ "${E2E_KEEP:-}" != 1 && -n "$proj" ]]; then
        compose down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
    fi
    proj=
    cd "$root" || exit 1
done

echo
echo "figures (quoted in README.md and deploy/README.md; update them when they change):"
printf '  %s\n' "${figures[@]}"
echo "  e2e total: ${SECONDS}s"
if ((failed)); then
    echo
    echo "failures (logs and 'compose ps -a' in $logdir):"
    printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
((failed == 0))
