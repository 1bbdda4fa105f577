#!/usr/bin/env bash
# End-to-end tests of compose.yaml and the schemagate image on a real Docker
# Engine, with no registry: the PostgreSQL image is assembled from this
# machine's packages (build-pg-image.sh) and the schemagate image is built
# from the static binary (docker/build-image.sh, FROM scratch).
#
#   tests/e2e/run.sh                 # all scenarios
#   tests/e2e/run.sh happy tls       # some of them
#
# Scenarios: image happy broken slowdb scale verifywait stop tls readonly configmap
#            libc
# Prints "skipped: no docker engine" and exits 0 when `docker info` fails.
# The last line is "N passed, M failed".
#
# Env: SCHEMAGATE_BINARY   use this static binary instead of docker/build-static.sh
#      E2E_POSTGRES_IMAGE  use this PostgreSQL image instead of building one
#      E2E_KEEP=1          leave the compose projects up for inspection
#      E2E_LOG_DIR         where logs go (target/e2e)
# Needs: docker (engine + CLI), docker compose v2 or docker-compose v1,
# openssl, the PostgreSQL server/client packages and busybox-static (for the
# PostgreSQL image), and a Rust toolchain (for the binary).
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
e2e=tests/e2e

if ! docker info >/dev/null 2>&1; then
    echo "e2e: skipped: no docker engine (docker info failed)"
    exit 0
fi
if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
    COMPOSE=(docker-compose)
else
    echo "e2e: skipped: no docker compose (neither 'docker compose' nor docker-compose)"
    exit 0
fi

all=(image happy broken slowdb scale verifywait stop tls readonly configmap libc)
if (($#)); then selected=("$@"); else selected=("${all[@]}"); fi

logdir=${E2E_LOG_DIR:-$root/target/e2e}
rm -rf "$logdir"
mkdir -p "$logdir"
work=$(mktemp -d)
projects=()
passed=0
failed=0
failures=()

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

cleanup() {
    if [[ "${E2E_KEEP:-}" != 1 ]]; then
        for p in "${projects[@]}"; do
            "${COMPOSE[@]}" -p "$p" -f compose.yaml down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
        done
    else
        log "E2E_KEEP=1: left projects ${projects[*]}"
    fi
    # Rebuilt images leave their predecessors dangling.
    docker image prune -f --filter label=org.opencontainers.image.title=schemagate >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

# ---------------------------------------------------------------- images

log "compose: ${COMPOSE[*]} ($("${COMPOSE[@]}" version --short 2>/dev/null || "${COMPOSE[@]}" version | head -1))"
pg_image=${E2E_POSTGRES_IMAGE:-}
if [[ -z "$pg_image" ]]; then
    log "building the PostgreSQL image from the host's packages"
    pg_image=$("$e2e/build-pg-image.sh") || { fail "build the PostgreSQL image"; echo "$passed passed, $failed failed"; exit 1; }
fi
log "PostgreSQL image: $pg_image"

binary=${SCHEMAGATE_BINARY:-}
if [[ -z "$binary" ]]; then
    log "building the static binary (docker/build-static.sh)"
    binary=$(docker/build-static.sh 2>"$logdir/build-static.log") || {
        cat "$logdir/build-static.log" >&2
        fail "build the static binary"
        echo "$passed passed, $failed failed"
        exit 1
    }
fi
sg_image=schemagate-e2e/schemagate:test
docker/build-image.sh -t "$sg_image" --binary "$binary" >/dev/null 2>"$logdir/build-image.log" || {
    cat "$logdir/build-image.log" >&2
    fail "build the schemagate image offline"
    echo "$passed passed, $failed failed"
    exit 1
}
log "schemagate image: $sg_image ($(tail -1 "$logdir/build-image.log"))"

export POSTGRES_IMAGE=$pg_image APP_IMAGE=$pg_image SCHEMAGATE_IMAGE=$sg_image
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

# ---------------------------------------------------------------- scenarios

scenario_image() {
    local size
    size=$(docker image inspect -f '{{.Size}}' "$sg_image")
    echo "    image size: $size bytes ($(awk -v s="$size" 'BEGIN{printf "%.2f MB", s/1e6}'))"
    check "image: at most 6 MB ($size bytes)" test "$size" -le 6000000
    check "image: USER 65532:65532" eq "$(docker image inspect -f '{{.Config.User}}' "$sg_image")" 65532:65532
    check "image: ENTRYPOINT [/schemagate] CMD [run]" eq \
        "$(docker image inspect -f '{{json .Config.Entrypoint}} {{json .Config.Cmd}}' "$sg_image")" '["/schemagate"] ["run"]'
    check "image: OCI labels" eq \
        "$(docker image inspect -f '{{index .Config.Labels "org.opencontainers.image.title"}}' "$sg_image")" schemagate
    check "image: no shell inside (FROM scratch)" bash -c \
        "! docker run --rm --entrypoint /bin/sh $sg_image -c true >/dev/null 2>&1"
    # The offline Dockerfile must be the user Dockerfile's final stage.
    local a b
    a=$(sed -n '/^FROM scratch$/,$p' docker/Dockerfile | sed 's#COPY --from=build /out/#COPY #')
    b=$(sed -n '/^FROM scratch$/,$p' docker/Dockerfile.prebuilt)
    check "image: Dockerfile.prebuilt matches Dockerfile's final stage" eq "$a" "$b"
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
        "$(psql_db 'SELECT count(*), count(DISTINCT version) FROM schemagate_history WHERE success')" \
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
        "$(psql_db "SELECT string_agg(version::text, ',' ORDER BY version) FROM schemagate_history")|$(psql_db "SELECT to_regclass('e2e_widgets') IS NOT NULL, to_regclass('e2e_gadgets') IS NULL")" \
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
        "$(psql_db 'SELECT count(*), count(DISTINCT version) FROM schemagate_history')" \
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
        "$(psql_db "SELECT string_agg(version::text, ',' ORDER BY version) FROM schemagate_history")|$(psql_db "SELECT to_regclass('e2e_gadgets') IS NULL")" \
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
    # The other scenarios use whatever build-static.sh preferred (musl when
    # the target and musl-tools are there). Build the other libc's static
    # binary too and check that it resolves the compose service name `db` in
    # a FROM scratch container (no nsswitch.conf, no libnss_*.so) and migrates.
    local kind other bin img rc m
    kind=$(file -b "$binary" | grep -q 'GNU/Linux' && echo gnu || echo musl)
    other=$([[ $kind == gnu ]] && echo musl || echo gnu)
    echo "    main binary: $kind; now building the $other one"
    if ! bin=$(SCHEMAGATE_STATIC=$other docker/build-static.sh 2>"$logdir/build-static-$other.log"); then
        if [[ $other == musl ]]; then
            echo "    (no musl toolchain here: only static glibc was tested)"
            ok "libc: musl unavailable here; static glibc covered by the other scenarios"
        else
            cat "$logdir/build-static-$other.log" >&2
            fail "libc: build the static $other binary"
        fi
        return
    fi
    img=schemagate-e2e/schemagate:$other
    docker/build-image.sh -t "$img" --binary "$bin" >/dev/null 2>>"$logdir/build-image.log" || { fail "libc: build the $other image"; return; }
    echo "    $other image: $(docker image inspect -f '{{.Size}}' "$img") bytes"
    project libc
    SCHEMAGATE_IMAGE=$img tcompose 240 up -d >/dev/null 2>&1; rc=$?
    snapshot libc
    m=$(cid migrate)
    check "libc: static $other binary resolves 'db' in FROM scratch and migrates" eq "$rc|$(exit_code "$m")" "0|0"
    check "libc: the container ran the $other image" eq "$(docker inspect -f '{{.Config.Image}}' "$m")" "$img"
}

for s in "${selected[@]}"; do
    if ! declare -F "scenario_$s" >/dev/null; then
        fail "unknown scenario $s (known: ${all[*]})"
        continue
    fi
    log "scenario $s"
    start=$SECONDS
    "scenario_$s"
    log "scenario $s took $((SECONDS - start))s"
    if [[ "${E2E_KEEP:-}" != 1 && -n "$proj" ]]; then
        compose down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
    fi
    proj=
done

if ((failed)); then
    echo
    echo "failures (logs and 'compose ps -a' in $logdir):"
    printf '  %s\n' "${failures[@]}"
fi
echo "$passed passed, $failed failed"
((failed == 0))
