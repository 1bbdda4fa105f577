#!/usr/bin/env python3
"""Offline validation of deploy/k8s and deploy/helm/schemagate.

Run through tests/deploy/run.sh, which installs the pinned requirements into a
venv. Every check is one test; the last line is "N passed, M failed".

What is checked:
  * every manifest under deploy/k8s, and every kustomize overlay built with
    `kubectl kustomize`, with `kubernetes-validate --strict` (oldest and newest
    Kubernetes versions the package bundles, or the chart's minimum);
  * the chart: strict lint with each ci/*-values.yaml, values.schema.json and
    the templates rejecting bad values, each rendering validated strictly, the
    chart rendered as a subchart, and its README's values table up to date;
  * in everything rendered: the restricted Pod Security Standard fields,
    FallbackToLogsOnError, credentials only through *_FILE from a Secret,
    SCHEMAGATE_* variables known to values.schema.json's
    $defs.schemagateSettings (and valid by it), a mounted CA that is used, the
    Job settings and podFailurePolicy, the Helm hook annotations and weights,
    and the order in which Argo CD applies hooks and resources;
  * the assertions themselves, on deliberately broken copies, so that a
    regression in the manifests cannot pass unnoticed.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
CHART = ROOT / "deploy" / "helm" / "schemagate"
HERE = Path(__file__).resolve().parent
BAD_VALUES = HERE / "bad-values"
OUT = Path(os.environ.get("DEPLOY_RENDER_DIR", ROOT / "target" / "deploy-validate" / "rendered"))
VENV_BIN = Path(sys.executable).parent
KV = str(VENV_BIN / "kubernetes-validate") if (VENV_BIN / "kubernetes-validate").exists() else "kubernetes-validate"

sys.path.insert(0, str(HERE))
import values_table  # noqa: E402

UID = 65532
# Helm --timeout defaults to 5m and Argo CD waits on hooks as long as they run;
# a Job must outlive both by far (helm/helm#10576).
MIN_TTL = 3600

# The one list of SCHEMAGATE_* variables: values.schema.json's
# $defs.schemagateSettings (generated from the settings table in src/config).
SCHEMA = json.loads((CHART / "values.schema.json").read_text())
SETTINGS = SCHEMA["$defs"]["schemagateSettings"]
KNOWN_SCHEMAGATE_VARS = set(SETTINGS["properties"])
SETTINGS_VALIDATOR = jsonschema.Draft7Validator(SETTINGS)

results: list[tuple[str, bool, str]] = []


def check(name: str):
    def run(fn):
        try:
            fn()
        except AssertionError as e:
            results.append((name, False, str(e) or "assertion failed"))
            print(f"FAIL {name}: {e}", flush=True)
        except Exception as e:  # noqa: BLE001 - report and go on
            results.append((name, False, f"{type(e).__name__}: {e}"))
            print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
            traceback.print_exc()
        else:
            results.append((name, True, ""))
            print(f"ok   {name}", flush=True)
        return fn

    return run


def must_fail(what: str, fn, *args) -> None:
    """fn(*args) must raise AssertionError: proves an assertion bites."""
    try:
        fn(*args)
    except AssertionError:
        return
    raise AssertionError(f"not caught: {what}")


def go_stderr(fn, *args, echo: bool = True):
    """Run fn(*args) with file descriptor 2 captured: Helm's Go library logs
    there (e.g. a template's `fail` in lint mode, which does not fail the
    lint). Returns (result, log); passes the log on, less the notes about the
    chart's one symbolic link."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            result = fn(*args)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        log = tmp.read().decode(errors="replace")
    rest = "".join(line for line in log.splitlines(keepends=True) if "found symbolic link in path" not in line)
    if echo:
        sys.stderr.write(rest)
    return result, log


def version_key(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


def kv_versions(minimum: str | None = None) -> list[str]:
    """The oldest (at least `minimum`) and newest Kubernetes versions bundled."""
    from kubernetes_validate import utils

    versions = sorted(set(utils.all_versions()), key=version_key)
    if minimum:
        versions = [v for v in versions if version_key(v) >= version_key(minimum)]
    return [versions[0], versions[-1]]


def kubernetes_validate(paths: list[Path], minimum: str | None = None) -> None:
    """Run the kubernetes-validate CLI, strictly, against each end version."""
    for version in kv_versions(minimum):
        proc = subprocess.run(
            [KV, "--strict", "--quiet", "-k", version, *map(str, paths)],
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, (
            f"kubernetes-validate --strict -k {version} failed:\n{proc.stdout}{proc.stderr}"
        )


def docs_of(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def pod_spec(doc: dict) -> dict | None:
    kind = doc.get("kind")
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"):
        return doc["spec"]["template"]["spec"]
    if kind == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    if kind == "Pod":
        return doc["spec"]
    return None


def annotations(doc: dict) -> dict:
    return doc["metadata"].get("annotations") or {}


def hook_types(doc: dict) -> list[str]:
    return [t.strip() for t in annotations(doc).get("helm.sh/hook", "").split(",") if t.strip()]


@dataclass(frozen=True)
class Expect:
    """What a rendering may differ in from the defaults."""

    # The numeric user every Pod runs as; None: the platform assigns it
    # (OpenShift), so no runAsUser/runAsGroup/fsGroup may be set.
    uid: int | None = UID
    # The Job and test Pod mount the service account token (opt-in).
    token: bool = False


DEFAULT = Expect()


def assert_restricted(doc: dict, expect: Expect = DEFAULT) -> None:
    """The restricted Pod Security Standard plus this project's own rules."""
    where = f"{doc['kind']}/{doc['metadata']['name']}"
    spec = pod_spec(doc)
    assert spec is not None, f"{where}: no pod spec"
    token_ok = expect.token and doc["kind"] in ("Job", "Pod")
    assert spec.get("automountServiceAccountToken") is (True if token_ok else False), (
        f"{where}: automountServiceAccountToken must be {token_ok}"
    )
    assert spec.get("enableServiceLinks") is False, f"{where}: enableServiceLinks must be false"
    psc = spec.get("securityContext") or {}
    assert psc.get("runAsNonRoot") is True, f"{where}: pod runAsNonRoot"
    for field in ("runAsUser", "runAsGroup", "fsGroup"):
        if expect.uid is None:
            assert field not in psc, f"{where}: pod {field} set although the platform assigns it"
        else:
            assert psc.get(field) == expect.uid, f"{where}: pod {field} {expect.uid}"
    assert (psc.get("seccompProfile") or {}).get("type") == "RuntimeDefault", f"{where}: pod seccompProfile"
    for vol in spec.get("volumes") or []:
        assert "hostPath" not in vol, f"{where}: hostPath volume {vol['name']}"
    containers = (spec.get("initContainers") or []) + spec["containers"]
    assert containers, f"{where}: no containers"
    for c in containers:
        cw = f"{where} container {c['name']}"
        sc = c.get("securityContext") or {}
        assert sc.get("allowPrivilegeEscalation") is False, f"{cw}: allowPrivilegeEscalation must be false"
        assert sc.get("readOnlyRootFilesystem") is True, f"{cw}: readOnlyRootFilesystem must be true"
        assert sc.get("runAsNonRoot") is True, f"{cw}: runAsNonRoot must be true"
        if expect.uid is None:
            ru = sc.get("runAsUser")
            assert ru is None or (isinstance(ru, int) and ru != 0), f"{cw}: runAsUser {ru}"
        else:
            assert isinstance(sc.get("runAsUser"), int) and sc["runAsUser"] != 0, f"{cw}: numeric non-root runAsUser"
        assert sc.get("privileged") in (None, False), f"{cw}: privileged"
        assert (sc.get("capabilities") or {}).get("drop") == ["ALL"], f"{cw}: capabilities.drop must be [ALL]"
        assert not (sc.get("capabilities") or {}).get("add"), f"{cw}: capabilities.add"
        assert (sc.get("seccompProfile") or {}).get("type") == "RuntimeDefault", f"{cw}: seccompProfile"
        assert c.get("terminationMessagePolicy") == "FallbackToLogsOnError", f"{cw}: terminationMessagePolicy"
        assert (c.get("resources") or {}).get("limits", {}).get("memory"), f"{cw}: memory limit"


def schemagate_containers(doc: dict) -> list[dict]:
    spec = pod_spec(doc) or {}
    out = []
    for c in (spec.get("initContainers") or []) + spec.get("containers", []):
        if "schemagate" in c["image"] or c["name"].startswith("schemagate"):
            out.append(c)
    return out


def assert_schemagate_container(doc: dict, c: dict) -> None:
    """Credentials via *_FILE from a mounted Secret; migrations at /migrations;
    SCHEMAGATE_* variables known to $defs.schemagateSettings and valid by it."""
    cw = f"{doc['kind']}/{doc['metadata']['name']} container {c['name']}"
    names = [e["name"] for e in c.get("env") or []]
    assert len(names) == len(set(names)), f"{cw}: a variable is set twice: {sorted(n for n in names if names.count(n) > 1)}"
    env = {e["name"]: e for e in c.get("env") or []}
    for secret_var in ("POSTGRES_PASSWORD", "DATABASE_URL", "PGPASSWORD"):
        assert secret_var not in env, f"{cw}: {secret_var} set directly; use {secret_var}_FILE"
    files = [n for n in ("POSTGRES_PASSWORD_FILE", "DATABASE_URL_FILE") if n in env]
    assert files, f"{cw}: needs POSTGRES_PASSWORD_FILE or DATABASE_URL_FILE"
    spec = pod_spec(doc)
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    mounts = c.get("volumeMounts") or []
    for name in files:
        path = env[name]["value"]
        mount = next((m for m in mounts if path.startswith(m["mountPath"].rstrip("/") + "/")), None)
        assert mount, f"{cw}: {name}={path} is not under any volumeMount"
        vol = volumes[mount["name"]]
        assert "secret" in vol, f"{cw}: {name} must come from a Secret volume, not {list(vol)}"
        assert mount.get("readOnly") is True, f"{cw}: secret mount must be readOnly"
    assert env.get("SCHEMAGATE_MIGRATIONS_DIR", {}).get("value", "/migrations") == "/migrations", f"{cw}: migrations dir"
    for m in mounts:
        if m["mountPath"] == "/migrations":
            assert "configMap" in volumes[m["name"]], f"{cw}: /migrations must be a ConfigMap (or the image)"
    args = c.get("args") or []
    assert args[:1] in (["run"], ["verify"]), f"{cw}: args {args}"
    if args[:1] == ["verify"]:
        if doc["kind"] == "Pod" and hook_types(doc) == ["test"]:
            assert args == ["verify"], f"{cw}: the helm test Pod runs a plain verify, not {args}"
        else:
            assert "--wait" in args, f"{cw}: verify initContainer needs --wait"
            assert c in (spec.get("initContainers") or []), f"{cw}: verify --wait belongs in an initContainer"
    for unknown in [n for n in env if n.startswith("SCHEMAGATE_")]:
        assert unknown in KNOWN_SCHEMAGATE_VARS, f"{cw}: unknown variable {unknown} (schemagate exits 2)"
    values = {n: e["value"] for n, e in env.items() if n.startswith("SCHEMAGATE_") and "value" in e}
    bad = [f"{'/'.join(map(str, e.path))}: {e.message}" for e in SETTINGS_VALIDATOR.iter_errors(values)]
    assert not bad, f"{cw}: invalid by $defs.schemagateSettings: {bad}"


def assert_pod_failure_policy(doc: dict) -> None:
    """Disruptions are ignored, and exit codes 1, 2, 5, 6 of the schemagate
    container fail the Job at once; the Ignore rule comes first."""
    where = f"Job/{doc['metadata']['name']}"
    rules = ((doc["spec"].get("podFailurePolicy") or {}).get("rules")) or []
    assert rules, f"{where}: no podFailurePolicy"
    ignore = [
        i
        for i, r in enumerate(rules)
        if r.get("action") == "Ignore"
        and {"type": "DisruptionTarget", "status": "True"} in r.get("onPodConditions") or []
    ]
    names = [c["name"] for c in schemagate_containers(doc) if c.get("args") == ["run"]]
    fail = [
        i
        for i, r in enumerate(rules)
        if r.get("action") == "FailJob"
        and (r.get("onExitCodes") or {}).get("operator") == "In"
        and (r.get("onExitCodes") or {}).get("containerName") in names
        and sorted(r["onExitCodes"].get("values") or []) == [1, 2, 5, 6]
    ]
    assert ignore, f"{where}: podFailurePolicy must Ignore DisruptionTarget: {rules}"
    assert fail, f"{where}: podFailurePolicy must FailJob on exit codes 1, 2, 5, 6 of {names}: {rules}"
    assert ignore[0] < fail[0], f"{where}: the DisruptionTarget rule must come first"


def assert_job(doc: dict) -> None:
    where = f"Job/{doc['metadata']['name']}"
    spec = doc["spec"]
    assert spec["template"]["spec"].get("restartPolicy") == "Never", f"{where}: restartPolicy Never"
    assert 0 <= spec.get("backoffLimit", 6) <= 2, f"{where}: backoffLimit must be small, is {spec.get('backoffLimit')}"
    assert spec.get("activeDeadlineSeconds", 0) > 0, f"{where}: activeDeadlineSeconds"
    assert spec.get("ttlSecondsAfterFinished", 0) >= MIN_TTL, (
        f"{where}: ttlSecondsAfterFinished {spec.get('ttlSecondsAfterFinished')} < {MIN_TTL}"
    )
    sg = schemagate_containers(doc)
    assert [c.get("args") for c in sg] == [["run"]], f"{where}: one schemagate run container"
    assert_pod_failure_policy(doc)


def assert_all(docs: list[dict], expect: Expect = DEFAULT) -> None:
    workloads = [d for d in docs if pod_spec(d) is not None]
    assert workloads, "no workloads rendered"
    for d in workloads:
        assert_restricted(d, expect)
        for c in schemagate_containers(d):
            assert_schemagate_container(d, c)
        if d["kind"] == "Job":
            assert_job(d)


def hook_weight(doc: dict) -> int:
    return int(annotations(doc)["helm.sh/hook-weight"])


def delete_policies(doc: dict) -> list[str]:
    return [p.strip() for p in annotations(doc).get("helm.sh/hook-delete-policy", "").split(",") if p.strip()]


def assert_helm_hooks(docs: list[dict]) -> None:
    """Helm's order. The Job is a pre-install,pre-upgrade hook; whatever it
    mounts from this rendering, and the NetworkPolicy, are hooks of a lower
    weight (Helm creates ordinary resources only after these hooks); the
    chart's Secret is deleted once the hooks succeeded; the test Pod mounts
    only what exists when `helm test` runs; the rest is ordinary."""
    jobs = [d for d in docs if d["kind"] == "Job"]
    assert len(jobs) == 1, f"expected one Job, got {len(jobs)}"
    job = jobs[0]
    ann = annotations(job)
    assert hook_types(job) == ["pre-install", "pre-upgrade"], f"Job hook: {ann}"
    assert delete_policies(job) == ["before-hook-creation", "hook-succeeded"], f"Job delete policy: {ann}"
    assert ann.get("helm.sh/hook-output-log-policy") == "hook-failed", f"Job output log policy: {ann}"
    weight = hook_weight(job)
    by_key = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    accounted = {id(job)}
    for key in sorted(mounted_objects(job)):
        dep = by_key.get(key)
        if dep is None:
            continue  # must exist before the release, e.g. database.existingSecret
        where = f"{key[0]}/{key[1]}"
        assert {"pre-install", "pre-upgrade"} <= set(hook_types(dep)), f"{where}: the Job mounts it, so it must be a pre-install,pre-upgrade hook"
        assert hook_weight(dep) < weight, f"{where}: weight must be below the Job's {weight}"
        assert "before-hook-creation" in delete_policies(dep), f"{where}: delete policy {delete_policies(dep)}"
        if key[0] == "Secret":
            assert "hook-succeeded" in delete_policies(dep), f"{where}: a hook Secret outlives `helm uninstall` unless hook-succeeded deletes it"
        accounted.add(id(dep))
    for d in docs:
        where = f"{d['kind']}/{d['metadata']['name']}"
        if d["kind"] == "NetworkPolicy":
            assert hook_types(d) == ["pre-install", "pre-upgrade"], f"{where}: must exist before the Job: {annotations(d)}"
            assert hook_weight(d) < weight, f"{where}: weight must be below the Job's {weight}"
            assert delete_policies(d) == ["before-hook-creation"], f"{where}: kept for the test Pod: {delete_policies(d)}"
            accounted.add(id(d))
        elif d["kind"] == "Pod":
            assert hook_types(d) == ["test"], f"{where}: a bare Pod is only rendered as the helm test hook"
            assert "hook-succeeded" not in delete_policies(d), f"{where}: kept for `helm test --logs`"
            for key in sorted(mounted_objects(d)):
                dep = by_key.get(key)
                if dep is None:
                    continue
                if "test" in hook_types(dep):
                    assert hook_weight(dep) < hook_weight(d), f"{where}: mounts {key} of a higher test weight"
                else:
                    assert hook_types(dep) and "hook-succeeded" not in delete_policies(dep), (
                        f"{where}: mounts {key[0]}/{key[1]}, which is gone by the time `helm test` runs"
                    )
            accounted.add(id(d))
        elif not hook_types(d):
            assert d["kind"] in ("Deployment", "ConfigMap"), f"{where}: unexpected ordinary resource"
            accounted.add(id(d))
    stray = [f"{d['kind']}/{d['metadata']['name']}" for d in docs if id(d) not in accounted]
    assert not stray, f"hooks with no role: {stray}"


def argo_diffed(docs: list[dict]) -> list[dict]:
    """What Argo CD compares with the live state: everything but hooks."""
    return [d for d in docs if not is_argo_hook(d)]


def assert_argo_sees_change(before: list[dict], after: list[dict], what: str) -> None:
    """Argo CD leaves hooks out of its diff (argo-cd#9830): a change that only
    touches hooks leaves the app Synced, and auto-sync never runs the Job."""
    assert argo_diffed(after), f"{what}: everything rendered is a hook, Argo CD diffs nothing"
    assert argo_diffed(before) != argo_diffed(after), f"{what}: no ordinary resource changes, Argo CD sees no diff"


CA_DIR = "/etc/schemagate/ca"
VERIFYING = ("verify-ca", "verify-full")


def url_param(url: str, key: str) -> str | None:
    """The value of a URL's or key=value string's parameter; of a repeated
    one the last, as schemagate reads it; "" when given empty."""
    found = re.findall(rf"(?:[?&]|^|\s){key}\s*=\s*('[^']*'|[^&\s']*)", url)
    return found[-1].strip("'") if found else None


def assert_ca_used(docs: list[dict], values: dict) -> None:
    """A CA bundle mounted at /etc/schemagate/ca is what schemagate verifies
    the server against, in every schemagate container and every connection
    mode, by schemagate's own precedence: the connection string's CA
    (POSTGRES_SSLROOTCERT with POSTGRES_*, the URL's sslrootcert with
    DATABASE_URL_FILE), else SCHEMAGATE_SSLROOTCERT. A URL in a Secret the
    chart does not create cannot be seen; the chart README tells what it must
    say. A CA path that is set but not mounted fails too."""
    ca = (values.get("database") or {}).get("sslrootcert") or {}
    source = ("secret", ca["secretName"]) if ca.get("secretName") else ("configMap", ca.get("configMapName"))
    want = f"{CA_DIR}/{ca.get('key') or 'ca.crt'}" if source[1] else None
    by_key = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    for d in docs:
        spec = pod_spec(d)
        if spec is None:
            continue
        volumes = {v["name"]: v for v in spec.get("volumes") or []}
        for c in schemagate_containers(d):
            cw = f"{d['kind']}/{d['metadata']['name']} container {c['name']}"
            env = {e["name"]: e.get("value") for e in c.get("env") or []}
            mount = next((m for m in c.get("volumeMounts") or [] if m["mountPath"].rstrip("/") == CA_DIR), None)
            if "DATABASE_URL_FILE" in env:
                path = env["DATABASE_URL_FILE"]
                url_mount = next(m for m in c["volumeMounts"] if path.startswith(m["mountPath"].rstrip("/") + "/"))
                secret = by_key.get(("Secret", volumes[url_mount["name"]]["secret"]["secretName"]))
                seen = secret is not None  # else an existing Secret: the URL is not in the rendering
                url = (secret.get("stringData") or {})[path.rsplit("/", 1)[1]] if seen else ""
                own, mode = url_param(url, "sslrootcert"), url_param(url, "sslmode")
            else:
                seen, own, mode = True, env.get("POSTGRES_SSLROOTCERT") or None, env.get("POSTGRES_SSLMODE")
            used = own if own is not None else env.get("SCHEMAGATE_SSLROOTCERT") or None
            if not (want or mount or used):
                continue
            assert want, f"{cw}: uses CA {used} (mounted: {bool(mount)}) without database.sslrootcert"
            assert used == want, f"{cw}: CA mounted at {want}, but schemagate uses {used!r}"
            assert mount and mount.get("readOnly") is True, f"{cw}: {used} is not mounted (read-only)"
            vol = volumes[mount["name"]]
            src = vol.get(source[0]) or {}
            assert (src.get("secretName") or src.get("name")) == source[1] and not src.get("items"), (
                f"{cw}: {CA_DIR} is not the whole {source[0]} {source[1]} of database.sslrootcert: {vol}"
            )
            if seen:
                assert mode in VERIFYING, f"{cw}: sslmode {mode} with a CA"


# --------------------------------------------------------------------------
# Argo CD: in which phase and wave each object is applied (gitops-engine:
# sync_phase.go, sync_tasks.go, syncwaves/waves.go, hook/helm/type.go).

ARGO_PHASES = {"PreSync": 0, "Sync": 1, "PostSync": 2}
HELM_TO_ARGO = {"pre-install": "PreSync", "pre-upgrade": "PreSync", "post-install": "PostSync", "post-upgrade": "PostSync"}


def argo_slot(doc: dict) -> tuple[int, int] | None:
    """(phase, wave) in which Argo CD applies doc; None if it never does.

    An argocd.argoproj.io/hook annotation wins and makes Argo CD ignore the
    Helm hook annotations; a Helm hook maps pre-* to PreSync and post-* to
    PostSync and is skipped when none of its types maps (e.g. `test`). The
    wave is argocd.argoproj.io/sync-wave, else helm.sh/hook-weight, else 0.
    Ordinary resources are applied in the Sync phase.
    """
    ann = doc["metadata"].get("annotations") or {}
    wave = int(ann.get("argocd.argoproj.io/sync-wave", ann.get("helm.sh/hook-weight", "0")))
    if "argocd.argoproj.io/hook" in ann:
        types = [t.strip() for t in ann["argocd.argoproj.io/hook"].split(",")]
    elif "helm.sh/hook" in ann:
        types = [HELM_TO_ARGO.get(t.strip(), "") for t in ann["helm.sh/hook"].split(",")]
    else:
        return ARGO_PHASES["Sync"], wave
    phases = [ARGO_PHASES[t] for t in types if t in ARGO_PHASES]
    return (min(phases), wave) if phases else None


def is_argo_hook(doc: dict) -> bool:
    ann = doc["metadata"].get("annotations") or {}
    return "argocd.argoproj.io/hook" in ann or "helm.sh/hook" in ann


def mounted_objects(doc: dict) -> set[tuple[str, str]]:
    """(kind, name) of the ConfigMaps and Secrets a workload mounts."""
    out = set()
    for v in (pod_spec(doc) or {}).get("volumes") or []:
        if "configMap" in v:
            out.add(("ConfigMap", v["configMap"]["name"]))
        if "secret" in v:
            out.add(("Secret", v["secret"]["secretName"]))
        for src in (v.get("projected") or {}).get("sources") or []:
            if "configMap" in src:
                out.add(("ConfigMap", src["configMap"]["name"]))
            if "secret" in src:
                out.add(("Secret", src["secret"]["name"]))
    return out


def assert_argo_order(docs: list[dict]) -> None:
    """Under Argo CD, whatever a migration Job mounts from this same rendering
    exists before the Job (an earlier phase, or an earlier wave of the same
    phase, since Argo CD waits for a wave to be healthy before the next), and
    the Job completes before the Deployments are applied."""
    by_key = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    jobs = [d for d in docs if d["kind"] == "Job"]
    for job in jobs:
        where = f"Job/{job['metadata']['name']}"
        slot = argo_slot(job)
        assert slot is not None, f"{where}: Argo CD would never run it"
        assert is_argo_hook(job), f"{where}: must be an Argo CD hook (a Job template is immutable)"
        for key in sorted(mounted_objects(job)):
            dep = by_key.get(key)
            if dep is None:
                continue  # created outside this rendering, e.g. the database Secret
            dslot = argo_slot(dep)
            assert dslot is not None and dslot < slot, (
                f"{where} (phase, wave) {slot} mounts {key[0]}/{key[1]} applied at {dslot}: "
                "Argo CD would start the Job before it exists"
            )
        for d in docs:
            if d["kind"] in ("Deployment", "StatefulSet"):
                dslot = argo_slot(d)
                assert dslot is not None and dslot > slot, (
                    f"{d['kind']}/{d['metadata']['name']} at {dslot} is applied before {where} at {slot} completes"
                )


# --------------------------------------------------------------------------
# deploy/k8s


def k8s_files() -> list[Path]:
    return sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")


def kustomizations() -> list[Path]:
    out = []
    for p in sorted(K8S.rglob("kustomization.yaml")):
        kind = (yaml.safe_load(p.read_text()) or {}).get("kind", "Kustomization")
        if kind == "Kustomization":
            out.append(p.parent)
    return out


for f in k8s_files():
    rel = f.relative_to(ROOT)

    @check(f"kubernetes-validate --strict {rel}")
    def _(f=f):
        kubernetes_validate([f])

    @check(f"security fields {rel}")
    def _(f=f):
        assert_all(docs_of(f.read_text()))


KUBECTL = shutil.which("kubectl")
for d in kustomizations():
    rel = d.relative_to(ROOT)
    out = OUT / "kustomize" / (str(d.relative_to(K8S)).replace("/", "_").replace(".", "root") + ".yaml")

    @check(f"kustomize build {rel} + kubernetes-validate --strict + security fields")
    def _(d=d, out=out):
        if not KUBECTL:
            raise AssertionError("kubectl not found (kubectl kustomize builds the overlays)")
        proc = subprocess.run([KUBECTL, "kustomize", str(d)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(proc.stdout)
        kubernetes_validate([out])
        docs = docs_of(proc.stdout)
        assert_all(docs)
        cms = [x for x in docs if x["kind"] == "ConfigMap"]
        assert cms and all(x["metadata"]["name"].startswith("schemagate-migrations-") for x in cms), "migrations ConfigMap"
        for x in docs:
            for v in (pod_spec(x) or {}).get("volumes") or []:
                if "configMap" in v:
                    assert v["configMap"]["name"] == cms[0]["metadata"]["name"], "hashed ConfigMap name not wired"
        assert_argo_order(docs)


def kustomize(d: Path) -> list[dict]:
    proc = subprocess.run([KUBECTL, "kustomize", str(d)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return docs_of(proc.stdout)


@check("kustomize job-and-app: Argo CD annotations and waves (ConfigMap -2, Job Sync hook -1, app 0)")
def _():
    if not KUBECTL:
        raise AssertionError("kubectl not found (kubectl kustomize builds the overlays)")
    docs = kustomize(K8S / "job-and-app")
    job = next(d for d in docs if d["kind"] == "Job")
    cm = next(d for d in docs if d["kind"] == "ConfigMap")
    app = next(d for d in docs if d["kind"] == "Deployment")
    assert annotations(job) == {
        "argocd.argoproj.io/hook": "Sync",
        "argocd.argoproj.io/sync-wave": "-1",
        "argocd.argoproj.io/hook-delete-policy": "BeforeHookCreation",
    }, annotations(job)
    assert annotations(cm) == {
        "argocd.argoproj.io/sync-wave": "-2",
        "argocd.argoproj.io/sync-options": "PruneLast=true",
    }, annotations(cm)
    assert not is_argo_hook(cm) and not is_argo_hook(app), "ConfigMap and app are ordinary resources"
    assert (argo_slot(cm), argo_slot(job), argo_slot(app)) == ((1, -2), (1, -1), (1, 0))
    # The order check bites on the layouts this one replaced.
    for what, mutate in {
        "Job as a PreSync hook (the deadlock of issue 13)": lambda: job["metadata"]["annotations"].update(
            {"argocd.argoproj.io/hook": "PreSync"}
        ),
        "ConfigMap in the Job's wave": lambda: cm["metadata"]["annotations"].update(
            {"argocd.argoproj.io/sync-wave": "-1"}
        ),
        "ConfigMap without a wave": lambda: cm["metadata"]["annotations"].pop("argocd.argoproj.io/sync-wave"),
        "app before the Job": lambda: app["metadata"].setdefault("annotations", {}).update(
            {"argocd.argoproj.io/sync-wave": "-5"}
        ),
        "Job not a hook": lambda: job["metadata"].update(annotations={}),
    }.items():
        saved = copy.deepcopy([job["metadata"], cm["metadata"], app["metadata"]])
        mutate()
        try:
            assert_argo_order(docs)
        except AssertionError:
            pass
        else:
            raise AssertionError(f"assert_argo_order misses: {what}")
        job["metadata"], cm["metadata"], app["metadata"] = saved


# --------------------------------------------------------------------------
# Helm chart

import helm_python as helm  # noqa: E402

VALUES_FILES = sorted((CHART / "ci").glob("*-values.yaml"))
# The one required value; bad-values files are laid over it.
BASE = {"image": {"repository": "registry.example.com/shop/schemagate"}}
CHART_META = yaml.safe_load((CHART / "Chart.yaml").read_text())
CHART_MIN_KUBE = re.fullmatch(r">=\s*(\d+\.\d+)\.\d+(-0)?", CHART_META["kubeVersion"]).group(1)
NEWEST_LINT_KUBE = "1.36"
# Renderings that differ from the defaults on purpose, and the Kubernetes
# version they need at least.
CI_EXPECT = {
    "openshift-values.yaml": Expect(uid=None),
    "cloudsql-values.yaml": Expect(token=True),
}
CI_MIN_KUBE = {"cloudsql-values.yaml": "1.29"}  # a native sidecar


def merged(*parts: dict) -> dict:
    out: dict = {}
    for part in parts:
        for k, v in part.items():
            out[k] = merged(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else copy.deepcopy(v)
    return out


def load_values(p: Path) -> dict:
    return yaml.safe_load(p.read_text()) or {}


def render_raw(values: dict, name: str = "shop", is_upgrade: bool = False, chart: Path = CHART) -> dict[str, str]:
    def run():
        with helm.Chart.load(str(chart)) as c:
            c.validate_schema(values)
            return c.render(values, name=name, namespace="prod", is_install=not is_upgrade, is_upgrade=is_upgrade)

    return go_stderr(run)[0]


def lint(values: dict, kube: str, echo: bool = True) -> tuple[dict, str]:
    """helm lint --strict at Kubernetes `kube`: the report, and what the
    templates' `fail` logged (lint mode logs it instead of failing)."""
    return go_stderr(lambda: helm.lint(str(CHART), values, strict=True, kube_version=f"v{kube}.0"), echo=echo)


def docs_of_render(manifests: dict[str, str]) -> list[dict]:
    docs = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt") or not text.strip():
            continue
        docs.extend(docs_of(text))
    return docs


def render(values: dict, name: str = "shop", is_upgrade: bool = False, chart: Path = CHART) -> list[dict]:
    return docs_of_render(render_raw(values, name, is_upgrade, chart))


def render_error(values: dict, chart: Path = CHART) -> str:
    try:
        render(values, chart=chart)
    except helm.HelmError as e:
        return str(e)
    raise AssertionError("accepted")


def one(docs: list[dict], kind: str, pred=lambda d: True) -> dict:
    found = [d for d in docs if d["kind"] == kind and pred(d)]
    assert len(found) == 1, f"expected one {kind}, got {[d['metadata']['name'] for d in found]}"
    return found[0]


def container(doc: dict, name: str = "schemagate") -> dict:
    spec = pod_spec(doc)
    return next(c for c in (spec.get("initContainers") or []) + spec["containers"] if c["name"] == name)


def env_of(c: dict) -> dict[str, str | None]:
    return {e["name"]: e.get("value") for e in c.get("env") or []}


def secrets_in(values: dict) -> list[str]:
    cs = (values.get("database") or {}).get("createSecret") or {}
    out = [cs.get("password") or ""]
    url = cs.get("url") or ""
    m = re.match(r"postgres(?:ql)?://[^:/@]*:([^@]+)@", url)
    out += [url, m.group(1) if m else ""]
    m = re.search(r"password\s*=\s*'?([^'\s]+)", url)
    out += [m.group(1) if m else ""]
    return [s for s in out if s]


@check("helm chart metadata (Chart.yaml apiVersion v2, appVersion, kubeVersion >= 1.26 for podFailurePolicy)")
def _():
    with go_stderr(helm.Chart.load, str(CHART))[0] as chart:
        assert chart.name == "schemagate", chart.name
    meta = CHART_META
    assert meta["apiVersion"] == "v2" and meta.get("appVersion") and meta.get("kubeVersion"), meta
    # podFailurePolicy and the DisruptionTarget condition are on by default from 1.26.
    assert version_key(CHART_MIN_KUBE) >= (1, 26), f"kubeVersion {meta['kubeVersion']} admits clusters without podFailurePolicy"
    link = CHART / "files" / "values.schema.json"
    assert link.is_symlink() and os.readlink(link) == "../values.schema.json", (
        "files/values.schema.json must be a symbolic link to ../values.schema.json (the templates read the settings list from it)"
    )


@check("helm: the chart defaults are rejected (image.repository is required)")
def _():
    msg = render_error({})
    assert "image.repository is required" in msg, msg


for vf in VALUES_FILES:
    label = vf.name
    expect = CI_EXPECT.get(vf.name, DEFAULT)
    minimum = max(CHART_MIN_KUBE, CI_MIN_KUBE.get(vf.name, CHART_MIN_KUBE), key=version_key)

    @check(f"helm lint --strict ({label})")
    def _(vf=vf, minimum=minimum):
        values = load_values(vf)
        for kube in (minimum, NEWEST_LINT_KUBE):
            report, log = lint(values, kube)
            bad = [m for m in report["messages"] if m["severity"] >= 2] + report.get("errors", [])
            assert not bad, f"lint (v{kube}.0): {bad}"
            assert "fail message" not in log, f"lint (v{kube}.0): a template failed: {log}"

    for upgrade in (False, True):
        phase = "upgrade" if upgrade else "install"

        @check(f"helm render ({label}, {phase}) + kubernetes-validate --strict + security fields + hooks + Argo CD order")
        def _(vf=vf, upgrade=upgrade, label=label, phase=phase, expect=expect, minimum=minimum):
            values = load_values(vf)
            manifests = render_raw(values, is_upgrade=upgrade)
            docs = docs_of_render(manifests)
            out = OUT / "helm" / f"{label.removesuffix('.yaml')}-{phase}.yaml"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(yaml.safe_dump_all(docs, sort_keys=False))
            kubernetes_validate([out], minimum)
            assert_all(docs, expect)
            assert_helm_hooks(docs)
            assert_argo_order(docs)
            assert_ca_used(docs, values)
            notes = next(t for p, t in manifests.items() if p.endswith("NOTES.txt"))
            for secret in secrets_in(values):
                assert secret not in notes, "NOTES.txt shows a secret"
            deadline = one(docs, "Job")["spec"]["activeDeadlineSeconds"]
            assert f"--timeout {deadline + 60}s" in notes, "NOTES.txt must give a --timeout above activeDeadlineSeconds"


@check("helm render: migrations.files land byte for byte in the ConfigMap")
def _():
    values = load_values(CHART / "ci" / "configmap-values.yaml")
    docs = render(values)
    cm = one(docs, "ConfigMap", lambda d: d["metadata"]["name"].endswith("-migrations"))
    assert cm["data"] == values["migrations"]["files"], "ConfigMap data differs from the files"


def chart_set_vars() -> set[str]:
    """The variables the chart sets itself, in any mode: the Job's env by
    default and with urlKey and a CA (SCHEMAGATE_SSLROOTCERT)."""
    out = set(env_of(container(one(render(BASE), "Job"))))
    out |= set(env_of(container(one(render(load_values(CHART / "ci" / "url-tls-values.yaml")), "Job"))))
    assert {"SCHEMAGATE_WAIT_TIMEOUT", "SCHEMAGATE_LOCK_TIMEOUT", "SCHEMAGATE_SSLROOTCERT"} <= out, out
    return out


@check("helm render: connection env follows values (urlKey -> DATABASE_URL_FILE only; CA -> POSTGRES_SSLROOTCERT, with urlKey SCHEMAGATE_SSLROOTCERT)")
def _():
    docs = render(load_values(CHART / "ci" / "url-tls-values.yaml"))
    env = env_of(container(one(docs, "Job")))
    assert "DATABASE_URL_FILE" in env and not env.keys() & {"POSTGRES_HOST", "POSTGRES_PASSWORD_FILE", "POSTGRES_SSLROOTCERT"}, env
    assert env["SCHEMAGATE_SSLROOTCERT"] == "/etc/schemagate/ca/ca.crt", env
    assert env["SCHEMAGATE_HISTORY_TABLE"] == "ops.schema_history", env
    docs = render(load_values(CHART / "ci" / "example-app-values.yaml"))
    c = container(one(docs, "Job"))
    env = env_of(c)
    assert env["POSTGRES_SSLMODE"] == "verify-full" and env["POSTGRES_SSLROOTCERT"] == "/etc/schemagate/ca/ca.crt", env
    assert "SCHEMAGATE_SSLROOTCERT" not in env, env
    assert c["image"].startswith("registry.example.com/platform/schemagate@sha256:"), c["image"]
    app = one(docs, "Deployment")
    init = container(app, "schemagate-verify")
    assert init["args"] == ["verify", "--wait"], init["args"]
    # Without a CA, neither variable and no CA volume.
    for values in (BASE, merged(BASE, {"database": {"urlKey": "url"}})):
        job = one(render(values), "Job")
        env = env_of(container(job))
        assert not env.keys() & {"POSTGRES_SSLROOTCERT", "SCHEMAGATE_SSLROOTCERT"}, env
        assert "ca" not in {v["name"] for v in pod_spec(job)["volumes"]}, pod_spec(job)["volumes"]


@check("helm: the SCHEMAGATE_* list comes from $defs.schemagateSettings (validate.py and templates)")
def _():
    props = SETTINGS["properties"]
    assert SETTINGS.get("additionalProperties") is False and SETTINGS.get("type") == "object", SETTINGS.keys()
    assert len(props) >= 14 and all(n.startswith("SCHEMAGATE_") for n in props), sorted(props)
    for name, entry in props.items():
        assert entry.get("type") == "string" and entry.get("description"), f"{name}: {entry}"
        assert set(entry) <= {"type", "description", "pattern", "enum"}, f"{name}: {sorted(entry)}"
    # Every variable that is not set by the chart itself passes through
    # extraEnv, to every schemagate container (valueFrom: no value to check,
    # so this holds for whatever variables the list grows).
    chart_set = chart_set_vars()
    for name in sorted(KNOWN_SCHEMAGATE_VARS - chart_set):
        entry = {"name": name, "valueFrom": {"configMapKeyRef": {"name": "schemagate-settings", "key": name.lower()}}}
        docs = render(merged(BASE, {"exampleApp": {"enabled": True}, "schemagate": {"extraEnv": [entry]}}))
        containers = [(d, c) for d in docs for c in schemagate_containers(d)]
        assert len(containers) == 3, [d["kind"] for d, _ in containers]
        for d, c in containers:
            assert entry in c["env"], f"{name} not passed to {d['kind']}/{d['metadata']['name']}"
    # And the list is not a copy: a name that is not in it is rejected, by
    # the templates and by assert_schemagate_container.
    msg = render_error(merged(BASE, {"schemagate": {"extraEnv": [{"name": "SCHEMAGATE_SCHEMA", "value": "public"}]}}))
    assert "unknown variable SCHEMAGATE_SCHEMA " in msg and "SCHEMAGATE_SCHEMAS" in msg, msg


@check("helm: extraEnv values are checked by $defs.schemagateSettings (pattern, enum), valueFrom passes")
def _():
    def extra(*entries: dict) -> dict:
        return merged(BASE, {"schemagate": {"extraEnv": list(entries)}})

    for name, value, expect in [
        ("SCHEMAGATE_WAIT_TIMEOUT", "10m", "is set by the chart"),
        ("POSTGRES_HOST", "db", "is part of the connection"),
        ("DATABASE_URL_FILE", "/run/secrets/url", "is part of the connection"),
    ]:
        msg = render_error(extra({"name": name, "value": value}))
        assert expect in msg and name in msg, f"{name}={value!r}: {msg}"
    # SCHEMAGATE_SSLROOTCERT in every connection mode, with a CA or without:
    # a CA comes through database.sslrootcert, mounted in every container.
    ca = {"name": "SCHEMAGATE_SSLROOTCERT", "value": "/etc/ssl/certs/db-ca.pem"}
    for mode in (
        {},
        {"database": {"urlKey": "url"}},
        load_values(CHART / "ci" / "url-tls-values.yaml"),
        load_values(CHART / "ci" / "url-existing-secret-values.yaml"),
        load_values(CHART / "ci" / "example-app-values.yaml"),
    ):
        msg = render_error(merged(BASE, mode, {"schemagate": {"extraEnv": [ca]}}))
        assert "SCHEMAGATE_SSLROOTCERT is set by the chart from database.sslrootcert" in msg, f"{mode}: {msg}"
    msg = render_error(extra({"name": "SCHEMAGATE_SSLROOTCERT", "valueFrom": {"configMapKeyRef": {"name": "sg", "key": "ca"}}}))
    assert "SCHEMAGATE_SSLROOTCERT is set by the chart" in msg, msg
    # Every enum and pattern of the list, as it stands, is applied.
    chart_set = chart_set_vars()
    checked = 0
    for name, entry in sorted(SETTINGS["properties"].items()):
        if name in chart_set:
            continue
        if "enum" in entry:
            render(extra({"name": name, "value": entry["enum"][-1]}))
            msg = render_error(extra({"name": name, "value": "not-one-of-them"}))
            assert f'{name}="not-one-of-them" is not one of' in msg, msg
            checked += 1
        if "pattern" in entry:
            bad = next((v for v in ("", " ", "not a value!", "a.b.c.d") if not re.search(entry["pattern"], v)), None)
            if bad is not None:
                assert "does not match" in render_error(extra({"name": name, "value": bad})), name
                checked += 1
    assert checked, "no enum or pattern to check outside the chart's own variables"
    # The pattern mechanism, on a copy whose list gives SCHEMAGATE_SCHEMAS one.
    copy_dir = OUT / "patterned" / "schemagate"
    shutil.rmtree(copy_dir.parent, ignore_errors=True)
    shutil.copytree(CHART, copy_dir, symlinks=True)
    schema = json.loads((copy_dir / "values.schema.json").read_text())
    schema["$defs"]["schemagateSettings"]["properties"]["SCHEMAGATE_SCHEMAS"]["pattern"] = "^[a-z_*]+(,[a-z_*]+)*$"
    (copy_dir / "values.schema.json").write_text(json.dumps(schema))
    render(extra({"name": "SCHEMAGATE_SCHEMAS", "value": "public,app_*"}), chart=copy_dir)
    msg = render_error(extra({"name": "SCHEMAGATE_SCHEMAS", "value": "public, app"}), chart=copy_dir)
    assert 'SCHEMAGATE_SCHEMAS="public, app" does not match ^[a-z_*]+(,[a-z_*]+)*$' in msg, msg
    # valueFrom has no value to check; value and valueFrom together are refused.
    ref = {"name": "SCHEMAGATE_SCHEMAS", "valueFrom": {"configMapKeyRef": {"name": "sg", "key": "schemas"}}}
    env = env_of(container(one(render(extra(ref)), "Job")))
    assert "SCHEMAGATE_SCHEMAS" in env, env
    msg = render_error(extra({**ref, "value": "public"}))
    assert "extraEnv" in msg, msg


@check("helm: the timeout guard (waitTimeout + lockTimeout must stay below activeDeadlineSeconds)")
def _():
    def values(wait: str, lock: str, deadline: int = 900) -> dict:
        return merged(BASE, {"schemagate": {"waitTimeout": wait, "lockTimeout": lock}, "job": {"activeDeadlineSeconds": deadline}})

    for wait, lock in [("2m", "5m"), ("899", "0"), ("899999ms", "0"), ("0.2h", "179")]:
        render(values(wait, lock))
    for wait, lock in [("10m", "5m"), ("900", "0"), ("0.25h", "0"), ("1h", "1ms"), ("1.5s", "898.5")]:
        msg = render_error(values(wait, lock))
        assert "reach job.activeDeadlineSeconds (900s)" in msg and "--timeout" in msg, f"{wait}+{lock}: {msg}"
    render(values("1.5h", "1h", 9001))


@check("helm: podFailurePolicy (Ignore DisruptionTarget first, FailJob on 1, 2, 5, 6) and the log policy")
def _():
    job = one(render(BASE), "Job")
    assert_pod_failure_policy(job)
    rules = job["spec"]["podFailurePolicy"]["rules"]
    assert rules == [
        {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
        {
            "action": "FailJob",
            "onExitCodes": {"containerName": "schemagate", "operator": "In", "values": [1, 2, 5, 6]},
            "onPodConditions": [],
        },
    ], rules
    for what, mutate in {
        "exit code 5 retried": lambda r: r[1]["onExitCodes"]["values"].remove(5),
        "exit code 3 fails at once": lambda r: r[1]["onExitCodes"]["values"].append(3),
        "wrong container": lambda r: r[1]["onExitCodes"].update(containerName="proxy"),
        "disruptions counted": lambda r: r.pop(0),
        "disruptions after FailJob": lambda r: r.reverse(),
        "NotIn": lambda r: r[1]["onExitCodes"].update(operator="NotIn"),
    }.items():
        broken = copy.deepcopy(job)
        mutate(broken["spec"]["podFailurePolicy"]["rules"])
        must_fail(what, assert_pod_failure_policy, broken)


def without_env(docs: list[dict], name: str, where=lambda d, c: True) -> list[dict]:
    """A copy of docs with variable `name` dropped from the schemagate containers `where` picks."""
    out = copy.deepcopy(docs)
    for d in out:
        for c in schemagate_containers(d):
            if where(d, c):
                c["env"] = [e for e in c["env"] if e["name"] != name]
    return out


def with_env(docs: list[dict], name: str, value: str) -> list[dict]:
    """A copy of docs with variable `name` set to value in every schemagate container."""
    out = copy.deepcopy(docs)
    for d in out:
        for c in schemagate_containers(d):
            c["env"] = [e for e in c["env"] if e["name"] != name] + [{"name": name, "value": value}]
    return out


@check("helm: a mounted CA is used in every connection mode and container (SCHEMAGATE_SSLROOTCERT with urlKey), and the check bites")
def _():
    ca_path = f"{CA_DIR}/ca.crt"
    tls = load_values(CHART / "ci" / "url-tls-values.yaml")
    existing = merged(load_values(CHART / "ci" / "url-existing-secret-values.yaml"), {"exampleApp": {"enabled": True}})
    example = load_values(CHART / "ci" / "example-app-values.yaml")
    rendered = {}
    for what, values, var, count in [
        ("createSecret.url", tls, "SCHEMAGATE_SSLROOTCERT", 2),
        ("existing Secret with the URL", existing, "SCHEMAGATE_SSLROOTCERT", 3),
        ("POSTGRES_*", example, "POSTGRES_SSLROOTCERT", 3),
    ]:
        docs = rendered[what] = render(values)
        found = [(d, c) for d in docs for c in schemagate_containers(d)]
        assert len(found) == count, f"{what}: {[(d['kind'], c['name']) for d, c in found]}"
        for d, c in found:
            env = env_of(c)
            assert env.get(var) == ca_path, f"{what}: {d['kind']}/{c['name']}: {env}"
        assert_ca_used(docs, values)
    # The URL is stored as given: no more sslrootcert= added to it.
    assert one(rendered["createSecret.url"], "Secret")["stringData"]["database-url"] == tls["database"]["createSecret"]["url"]
    ca = next(v for v in pod_spec(one(rendered["createSecret.url"], "Job"))["volumes"] if v["name"] == "ca")
    assert ca == {"name": "ca", "configMap": {"name": "db-ca"}}, ca
    # Another key of the CA's Secret.
    other_key = merged(existing, {"database": {"sslrootcert": {"key": "global-bundle.pem"}}})
    docs = render(other_key)
    assert {env_of(c)["SCHEMAGATE_SSLROOTCERT"] for d in docs for c in schemagate_containers(d)} == {f"{CA_DIR}/global-bundle.pem"}
    assert_ca_used(docs, other_key)
    must_fail("the default key's path where another key is mounted", assert_ca_used, rendered["existing Secret with the URL"], other_key)

    # URLs the chart stores (and schemagate then verifies with the mounted
    # CA), and URLs it refuses: each refused one, put into a rendering past
    # the template, fails assert_ca_used as well.
    for given in [
        "postgres://m:pw@db/shop?sslmode=verify-ca",
        "postgresql://m:pw@db/shop?sslrootcert=/etc/schemagate/ca/ca.crt&sslmode=verify-full",
        "postgres://m:pw@db/shop?sslmode=require&sslmode=verify-full",
        "host=db user=m password=pw sslmode=verify-full",
        "host=db user=m password=pw sslmode='verify-ca' sslrootcert='/etc/schemagate/ca/ca.crt'",
    ]:
        v = merged(tls, {"database": {"createSecret": {"url": given}}})
        docs = render(v)
        assert one(docs, "Secret")["stringData"]["database-url"] == given, given
        assert_ca_used(docs, v)
    base = rendered["createSecret.url"]
    for given, expect in [
        ("postgres://m:pw-secret@db/shop", "sslmode=verify-ca or sslmode=verify-full"),
        ("postgres://m:pw-secret@db/shop?sslmode=require", "sslmode=verify-ca or sslmode=verify-full"),
        ("postgres://m:pw-secret@db/shop?sslmode=verify-full&sslmode=disable", "sslmode=verify-ca or sslmode=verify-full"),
        ("host=db password=pw-secret sslmode=prefer", "sslmode=verify-ca or sslmode=verify-full"),
        ("postgres://m:pw-secret@db/shop?sslmode=verify-full&sslrootcert=/other/ca.pem", "names sslrootcert=/other/ca.pem, which wins over the CA mounted at /etc/schemagate/ca/ca.crt"),
        ("postgres://m:pw-secret@db/shop?sslmode=verify-full&sslrootcert=system", "names sslrootcert=system, which wins"),
        ("postgres://m:pw-secret@db/shop?sslmode=verify-full&sslrootcert=", "names sslrootcert=, which wins"),
        ("host=db password=pw-secret sslmode=verify-full sslrootcert=''", "names sslrootcert=, which wins"),
    ]:
        msg = render_error(merged(tls, {"database": {"createSecret": {"url": given}}}))
        assert expect in msg and "pw-secret" not in msg, f"{given}: {msg}"
        broken = copy.deepcopy(base)
        one(broken, "Secret")["stringData"]["database-url"] = given
        must_fail(f"URL {given}", assert_ca_used, broken, tls)

    # The check bites: the CA mounted but unused, unused in one container,
    # not mounted, from elsewhere, or overridden by the mode's own variable.
    urls = rendered["existing Secret with the URL"]
    must_fail("SCHEMAGATE_SSLROOTCERT dropped (createSecret.url)", assert_ca_used, without_env(base, "SCHEMAGATE_SSLROOTCERT"), tls)
    must_fail("SCHEMAGATE_SSLROOTCERT dropped (existing Secret)", assert_ca_used, without_env(urls, "SCHEMAGATE_SSLROOTCERT"), existing)
    for kind in ("Job", "Pod", "Deployment"):
        broken = without_env(urls, "SCHEMAGATE_SSLROOTCERT", lambda d, c: d["kind"] == kind)
        must_fail(f"SCHEMAGATE_SSLROOTCERT dropped in the {kind} only", assert_ca_used, broken, existing)
        broken = copy.deepcopy(urls)
        for d in broken:
            for c in schemagate_containers(d):
                if d["kind"] == kind:
                    c["volumeMounts"] = [m for m in c["volumeMounts"] if m["mountPath"] != CA_DIR]
        must_fail(f"CA not mounted in the {kind}", assert_ca_used, broken, existing)
    must_fail("SCHEMAGATE_SSLROOTCERT elsewhere", assert_ca_used, with_env(urls, "SCHEMAGATE_SSLROOTCERT", "/etc/ssl/certs/ca.pem"), existing)
    broken = copy.deepcopy(urls)
    for d in broken:
        for v in (pod_spec(d) or {}).get("volumes") or []:
            if v["name"] == "ca":
                v["secret"]["secretName"] = "some-other-ca"
    must_fail("CA volume from another Secret", assert_ca_used, broken, existing)
    pg = rendered["POSTGRES_*"]
    must_fail("POSTGRES_SSLROOTCERT dropped", assert_ca_used, without_env(pg, "POSTGRES_SSLROOTCERT"), example)
    must_fail("POSTGRES_SSLMODE require", assert_ca_used, with_env(pg, "POSTGRES_SSLMODE", "require"), example)
    # POSTGRES_SSLROOTCERT wins over SCHEMAGATE_SSLROOTCERT, as in schemagate.
    broken = with_env(with_env(pg, "POSTGRES_SSLROOTCERT", "/etc/ssl/certs/ca.pem"), "SCHEMAGATE_SSLROOTCERT", ca_path)
    must_fail("POSTGRES_SSLROOTCERT elsewhere, SCHEMAGATE_SSLROOTCERT ignored", assert_ca_used, broken, example)
    assert_ca_used(without_env(with_env(pg, "SCHEMAGATE_SSLROOTCERT", ca_path), "POSTGRES_SSLROOTCERT"), example)
    # A CA variable without database.sslrootcert.
    must_fail("a CA path without a CA", assert_ca_used, with_env(render(BASE), "SCHEMAGATE_SSLROOTCERT", ca_path), BASE)


@check("helm: the hook Secret is deleted once the hooks succeeded, and exists again for helm test")
def _():
    docs = render(load_values(CHART / "ci" / "url-tls-values.yaml"))
    secret = one(docs, "Secret")
    assert hook_types(secret) == ["pre-install", "pre-upgrade", "test"], annotations(secret)
    assert delete_policies(secret) == ["before-hook-creation", "hook-succeeded"], annotations(secret)
    pod = one(docs, "Pod")
    assert hook_weight(secret) < hook_weight(pod) and ("Secret", secret["metadata"]["name"]) in mounted_objects(pod)
    broken = copy.deepcopy(docs)
    one(broken, "Secret")["metadata"]["annotations"]["helm.sh/hook-delete-policy"] = "before-hook-creation"
    must_fail("Secret outliving helm uninstall", assert_helm_hooks, broken)
    broken = copy.deepcopy(docs)
    one(broken, "Secret")["metadata"]["annotations"]["helm.sh/hook"] = "pre-install,pre-upgrade"
    must_fail("test Pod mounting a deleted Secret", assert_helm_hooks, broken)
    msg = render_error(merged(BASE, {"database": {"createSecret": {"enabled": True, "password": "pw-secret"}}, "exampleApp": {"enabled": True}}))
    assert "use database.existingSecret with exampleApp" in msg and "pw-secret" not in msg, msg


@check("helm test: a hook Pod runs `schemagate verify` with the Job's settings and mounts")
def _():
    values = load_values(CHART / "ci" / "cloudsql-values.yaml")
    docs = render(values)
    job, pod = one(docs, "Job"), one(docs, "Pod")
    assert hook_types(pod) == ["test"] and container(pod)["args"] == ["verify"], pod["metadata"]
    job_env, pod_env = env_of(container(job)), env_of(container(pod))
    assert {k: v for k, v in job_env.items() if k != "SCHEMAGATE_LOCK_TIMEOUT"} == pod_env, (job_env, pod_env)
    assert container(pod)["volumeMounts"] == container(job)["volumeMounts"]
    assert pod_spec(pod)["initContainers"] == pod_spec(job)["initContainers"], "the test Pod needs the proxy too"
    assert "Pod" not in {d["kind"] for d in render(merged(BASE, {"test": {"enabled": False}}))}


@check("helm: platform overrides (OpenShift security context, native sidecar, extra volumes, token, NetworkPolicy)")
def _():
    docs = render(load_values(CHART / "ci" / "openshift-values.yaml"))
    for d in docs:
        spec = pod_spec(d)
        if spec is None:
            continue
        assert not {"runAsUser", "runAsGroup", "fsGroup"} & set(spec["securityContext"]), spec["securityContext"]
        for c in spec["containers"]:
            assert "runAsUser" not in c["securityContext"], c["securityContext"]
    must_fail("a fixed UID where the platform assigns it", assert_all, render(BASE), Expect(uid=None))
    values = load_values(CHART / "ci" / "cloudsql-values.yaml")
    docs = render(values)
    spec = pod_spec(one(docs, "Job"))
    proxy = spec["initContainers"][0]
    assert proxy["name"] == "cloud-sql-proxy" and proxy["restartPolicy"] == "Always", proxy
    assert {"name": "tmp", "mountPath": "/tmp"} in container(one(docs, "Job"))["volumeMounts"]
    assert spec["automountServiceAccountToken"] is True and spec["serviceAccountName"] == "shop-migrator", spec
    must_fail("token mounted without opting in", assert_all, docs)
    # Before Kubernetes 1.29 a native sidecar is rejected rather than left running.
    _, log = lint(values, "1.28", echo=False)
    assert "cloud-sql-proxy is a native sidecar (restartPolicy: Always), which needs Kubernetes 1.29 or later" in log, log
    _, log = lint(values, "1.29")
    assert "fail message" not in log, log
    netpol = one(docs, "NetworkPolicy")
    sel = netpol["spec"]["podSelector"]
    for d in (one(docs, "Job"), one(docs, "Pod")):
        labels = (d["spec"]["template"]["metadata"] if d["kind"] == "Job" else d["metadata"])["labels"]
        assert all(labels.get(k) == v for k, v in sel["matchLabels"].items()), labels
        assert all(labels.get(e["key"]) in e["values"] for e in sel["matchExpressions"]), labels
    ports = [p["port"] for rule in netpol["spec"]["egress"] for p in rule.get("ports", [])]
    assert ports == [53, 53, 3307, 443], ports
    assert netpol["spec"]["ingress"] == [] and netpol["spec"]["policyTypes"] == ["Ingress", "Egress"], netpol["spec"]
    port = one(render(merged(BASE, {"networkPolicy": {"enabled": True, "database": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}, "database": {"port": 6432}})), "NetworkPolicy")
    assert port["spec"]["egress"][1]["ports"][0]["port"] == 6432, port["spec"]["egress"]


@check("Argo CD auto-sync: an ordinary object changes with the image and the migrations (argo-cd#9830)")
def _():
    base = merged(BASE, load_values(CHART / "ci" / "configmap-values.yaml"))
    docs = render(base)
    assert not any(d["kind"] == "Deployment" for d in docs), "exampleApp must be off here"
    state = one(docs, "ConfigMap", lambda d: not is_argo_hook(d))
    assert state["data"]["image"] == container(one(docs, "Job"))["image"], state["data"]
    changes = {
        "image tag": {"image": {"tag": "1.4.1"}},
        "image digest": {"image": {"digest": "sha256:" + "ab" * 32}},
        "a migration": {"migrations": {"files": {"0003_more.sql": "SELECT 1;\n"}}},
        "a migration's text": {"migrations": {"files": {"0001_create_items.sql": "CREATE TABLE items ();\n"}}},
        "a setting": {"schemagate": {"lockTimeout": "1m"}},
    }
    for what, change in changes.items():
        assert_argo_sees_change(docs, render(merged(base, change)), what)
    # image baked migrations: the image reference is what changes.
    assert_argo_sees_change(render(BASE), render(merged(BASE, {"image": {"tag": "9.9.9"}})), "image tag (source image)")
    without = [d for d in docs if is_argo_hook(d)]
    must_fail("no ordinary object", assert_argo_sees_change, without, [d for d in render(merged(base, changes["image tag"])) if is_argo_hook(d)], "x")
    # The PreSync hooks keep their waves, below the Sync phase.
    slots = {(d["kind"], d["metadata"]["name"].removeprefix("shop-schemagate")): argo_slot(d) for d in docs}
    assert slots == {
        ("ConfigMap", "-migrations"): (0, -6),
        ("Job", "-migrate"): (0, -5),
        ("ConfigMap", "-state"): (1, 0),
        ("Pod", "-verify"): None,
    }, slots


@check("helm: the chart as a dependency of a parent chart (global values, condition, hooks)")
def _():
    parent = OUT / "subchart" / "shop"
    shutil.rmtree(parent, ignore_errors=True)
    (parent / "templates").mkdir(parents=True)
    shutil.copytree(CHART, parent / "charts" / "schemagate", symlinks=True, ignore=shutil.ignore_patterns("ci"))
    (parent / "Chart.yaml").write_text(yaml.safe_dump({
        "apiVersion": "v2", "name": "shop", "version": "1.0.0",
        "dependencies": [{"name": "schemagate", "version": CHART_META["version"], "repository": "file://../schemagate", "condition": "schemagate.enabled"}],
    }))
    (parent / "values.yaml").write_text(yaml.safe_dump({
        "global": {"imageRegistry": "registry.example.com", "labels": {"team": "shop"}},
        "schemagate": {"enabled": True, **load_values(CHART / "ci" / "configmap-values.yaml")},
    }))
    (parent / "templates" / "app.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-app\ndata:\n  global: {{ .Values.global.imageRegistry | quote }}\n"
    )
    docs = render({}, chart=parent)
    job = one(docs, "Job")
    assert job["metadata"]["name"] == "shop-schemagate-migrate", job["metadata"]["name"]
    assert_all(docs)
    assert_helm_hooks(docs)
    assert_argo_order(docs)
    assert not [d for d in render({"schemagate": {"enabled": False}}, chart=parent) if d["kind"] == "Job"], "condition ignored"
    # Without `global` in the schema the subchart is rejected: the check bites.
    schema_path = parent / "charts" / "schemagate" / "values.schema.json"
    schema = json.loads(schema_path.read_text())
    del schema["properties"]["global"]
    schema_path.write_text(json.dumps(schema))
    msg = render_error({}, chart=parent)
    assert "global" in msg, msg


@check("chart README: the values table is generated from values.yaml and values.schema.json")
def _():
    readme = (CHART / "README.md").read_text()
    table = values_table.table(CHART)
    assert values_table.current(readme) == table, "out of date: run python3 tests/deploy/values_table.py --write"
    assert "| `image.repository` |" in table and "| `schemagate.extraEnv` |" in table, table[:300]


def doc_tables(text: str, header: str) -> list[list[str]]:
    """The body rows (cells) of every Markdown table whose header row starts with `header`."""
    rows, inside = [], False
    for line in text.splitlines():
        if line.startswith(header):
            inside = True
        elif inside and line.startswith("|") and not line.startswith("|---"):
            rows.append([c.strip() for c in line.strip()[1:-1].split("|")])
        elif not line.startswith("|"):
            inside = False
    return rows


def ticked(cell: str) -> str | None:
    m = re.search(r"`([^`]+)`", cell)
    return m.group(1) if m else None


@check("READMEs: the hook tables say what the chart and the kustomize layout render")
def _():
    full = render(merged(load_values(CHART / "ci" / "configmap-values.yaml"), {
        "database": {"createSecret": {"enabled": True, "password": "x"}},
        "networkPolicy": {"enabled": True, "database": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]},
    }))
    full += [d for d in render(merged(BASE, {"exampleApp": {"enabled": True}})) if d["kind"] == "Deployment"]
    by_key = {(d["kind"], d["metadata"]["name"]): d for d in full}
    weight = hook_weight(one(full, "Job"))
    for readme in (CHART / "README.md", ROOT / "deploy" / "README.md"):
        rows = doc_tables(readme.read_text(), "| object | `helm.sh/hook` |")
        assert len(rows) >= 6, f"{readme}: hook table not found"
        seen = set()
        for obj, hook, w, policy in rows:
            key = (obj.split()[0], ticked(obj).replace("<release>", "shop"))
            d = by_key.get(key)
            assert d is not None, f"{readme.name}: {key} is not rendered"
            seen.add(key)
            if hook == "(ordinary resource)":
                assert not hook_types(d), f"{readme.name}: {key} is a hook"
                continue
            assert ticked(hook) == annotations(d).get("helm.sh/hook"), f"{readme.name}: {key} hook {hook}"
            m = re.fullmatch(r"`job\.hookWeight`(?:\s*[-−]\s*(\d+))?(?:\s*\(.*\))?", w)
            assert m, f"{readme.name}: {key} weight {w!r}"
            assert hook_weight(d) == weight - int(m.group(1) or 0), f"{readme.name}: {key} weight {w}"
            assert ticked(policy) == annotations(d).get("helm.sh/hook-delete-policy"), f"{readme.name}: {key} policy {policy}"
        missing = {k for k in by_key if k not in seen and k[0] != "Deployment"} - {("Deployment", "shop-schemagate-example-app")}
        assert not missing, f"{readme.name}: rendered but not in the table: {missing}"
    if not KUBECTL:
        raise AssertionError("kubectl not found (kubectl kustomize builds the overlays)")
    docs = kustomize(K8S / "job-and-app")
    rows = doc_tables((ROOT / "deploy" / "README.md").read_text(), "| object | `argocd.argoproj.io/hook` |")
    assert len(rows) == 3, rows
    for obj, hook, wave, other in rows:
        kind, name = obj.split()[0], ticked(obj).replace("<hash>", "")
        d = one(docs, kind, lambda d: d["metadata"]["name"].startswith(name))
        ann = annotations(d)
        assert (ticked(hook) if hook != "(ordinary resource)" else None) == ann.get("argocd.argoproj.io/hook"), (obj, ann)
        assert int(ticked(wave)) == argo_slot(d)[1], (obj, ann)
        if other:
            k, v = ticked(other).split(": ")
            assert ann.get(f"argocd.argoproj.io/{k}") == v, (obj, ann)


for bad in sorted(BAD_VALUES.glob("*.yaml")):

    @check(f"values.schema.json / templates reject {bad.name}")
    def _(bad=bad):
        values = load_values(bad)
        expect = bad.read_text().splitlines()[0].removeprefix("# expect:").strip()
        msg = render_error(values if "image" in values else merged(BASE, values))
        assert expect.lower() in msg.lower(), f"rejected, but the message lacks {expect!r}: {msg}"
        for secret in secrets_in(values):
            assert secret not in msg, "the message shows a secret"


# --------------------------------------------------------------------------
# The assertions must bite: each mutation of a good rendering must fail.

MUTATIONS = {
    "readOnlyRootFilesystem removed": lambda s: s["containers"][0]["securityContext"].pop("readOnlyRootFilesystem"),
    "allowPrivilegeEscalation true": lambda s: s["containers"][0]["securityContext"].update(allowPrivilegeEscalation=True),
    "capabilities not dropped": lambda s: s["containers"][0]["securityContext"].pop("capabilities"),
    "seccomp Unconfined": lambda s: s["securityContext"].update(seccompProfile={"type": "Unconfined"}),
    "runAsUser 0": lambda s: s["containers"][0]["securityContext"].update(runAsUser=0),
    "token automounted": lambda s: s.pop("automountServiceAccountToken"),
    "terminationMessagePolicy File": lambda s: s["containers"][0].update(terminationMessagePolicy="File"),
    "plain POSTGRES_PASSWORD": lambda s: s["containers"][0]["env"].append({"name": "POSTGRES_PASSWORD", "value": "x"}),
    "unknown SCHEMAGATE_ var": lambda s: s["containers"][0]["env"].append({"name": "SCHEMAGATE_TIMEOUT", "value": "1"}),
    "known var, bad value": lambda s: s["containers"][0]["env"].append({"name": "SCHEMAGATE_CREATE_DATABASE", "value": "maybe"}),
    "a variable twice": lambda s: s["containers"][0]["env"].append(dict(s["containers"][0]["env"][0])),
    "restartPolicy OnFailure": lambda s: s.update(restartPolicy="OnFailure"),
}


@check("assertions catch regressions (security fields, secrets, settings, Job, hooks)")
def _():
    base = render(merged(BASE, load_values(CHART / "ci" / "configmap-values.yaml")))
    assert_all(base)
    assert_helm_hooks(base)
    missed = []
    for what, mutate in MUTATIONS.items():
        docs = copy.deepcopy(base)
        mutate(pod_spec(one(docs, "Job")))
        try:
            assert_all(docs)
        except AssertionError:
            continue
        missed.append(what)
    for what, mutate in {
        "short ttl": lambda j: j["spec"].update(ttlSecondsAfterFinished=60),
        "no podFailurePolicy": lambda j: j["spec"].pop("podFailurePolicy"),
        "post-install hook": lambda j: j["metadata"]["annotations"].update({"helm.sh/hook": "post-install"}),
        "no hook-succeeded": lambda j: j["metadata"]["annotations"].update(
            {"helm.sh/hook-delete-policy": "before-hook-creation"}
        ),
        "no output log policy": lambda j: j["metadata"]["annotations"].pop("helm.sh/hook-output-log-policy"),
        "ConfigMap after Job": lambda j: j["metadata"]["annotations"].update({"helm.sh/hook-weight": "-100"}),
    }.items():
        docs = copy.deepcopy(base)
        mutate(one(docs, "Job"))
        try:
            assert_all(docs)
            assert_helm_hooks(docs)
        except AssertionError:
            continue
        missed.append(what)
    assert not missed, f"not caught: {missed}"


passed = sum(1 for _, ok, _ in results if ok)
failed = len(results) - passed
if failed:
    print("\nfailures:")
    for name, ok, why in results:
        if not ok:
            print(f"  {name}\n    {why}")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
