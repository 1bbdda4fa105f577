#!/usr/bin/env bash
# Offline validation of deploy/k8s and deploy/helm/schemagate.
#
#   tests/deploy/run.sh
#
# Creates a venv (default target/deploy-validate/venv, override with
# DEPLOY_VENV), installs tests/deploy/requirements.txt into it once (again only
# when that file changes), then runs tests/deploy/validate.py, whose last line
# is "N passed, M failed". Needs python3 with venv, and kubectl for
# `kubectl kustomize` (no cluster is contacted). Nothing else is downloaded
# after the pip install: the schemas and Helm's library come in the wheels.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
venv=${DEPLOY_VENV:-$root/target/deploy-validate/venv}
req=tests/deploy/requirements.txt
python=${PYTHON:-python3}

stamp="$venv/.requirements.sha256"
want=$(sha256sum "$req" | cut -d' ' -f1)
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    echo "deploy: creating venv $venv" >&2
    rm -rf "$venv"
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
    echo "$want" >"$stamp"
fi

exec "$venv/bin/python" tests/deploy/validate.py "$@"
