#!/usr/bin/env python3
"""Offline validation of deploy/k8s and deploy/helm/schemagate.

Run through tests/deploy/run.sh, which installs the pinned requirements into a
venv. Every check is one test; the last line is "N passed, M failed".

What is checked:
  * every manifest under deploy/k8s, and every kustomize overlay built with
    `kubectl kustomize`, with `kubernetes-validate --strict` (oldest and newest
    Kubernetes versions the package bundles);
  * the chart: strict lint with each ci/*-values.yaml, values.schema.json
    rejecting bad values, and each rendering validated strictly;
  * in everything rendered: the restricted Pod Security Standard fields,
    FallbackToLogsOnError, credentials only through *_FILE from a Secret,
    the Job settings, and the Helm hook annotations and weights.
  * the assertions themselves, on deliberately broken copies, so that a
    regression in the manifests cannot pass unnoticed.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import traceback
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
CHART = ROOT / "deploy" / "helm" / "schemagate"
BAD_VALUES = Path(__file__).resolve().parent / "bad-values"
OUT = Path(os.environ.get("DEPLOY_RENDER_DIR", ROOT / "target" / "deploy-validate" / "rendered"))
VENV_BIN = Path(sys.executable).parent
KV = str(VENV_BIN / "kubernetes-validate") if (VENV_BIN / "kubernetes-validate").exists() else "kubernetes-validate"

UID = 65532
# Helm --timeout defaults to 5m and Argo CD waits on hooks as long as they run;
# a Job must outlive both by far (helm/helm#10576).
MIN_TTL = 3600

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


def kv_versions() -> list[str]:
    from kubernetes_validate import utils

    versions = sorted(set(utils.all_versions()), key=lambda v: tuple(int(x) for x in v.split(".")))
    return [versions[0], versions[-1]]


def kubernetes_validate(paths: list[Path]) -> None:
    """Run the kubernetes-validate CLI, strictly, against each bundled end version."""
    for version in kv_versions():
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


def assert_restricted(doc: dict) -> None:
    """The restricted Pod Security Standard plus this project's own rules."""
    where = f"{doc['kind']}/{doc['metadata']['name']}"
    spec = pod_spec(doc)
    assert spec is not None, f"{where}: no pod spec"
    assert spec.get("automountServiceAccountToken") is False, f"{where}: automountServiceAccountToken must be false"
    assert spec.get("enableServiceLinks") is False, f"{where}: enableServiceLinks must be false"
    psc = spec.get("securityContext") or {}
    assert psc.get("runAsNonRoot") is True, f"{where}: pod runAsNonRoot"
    assert psc.get("runAsUser") == UID, f"{where}: pod runAsUser {UID}"
    assert psc.get("runAsGroup") == UID, f"{where}: pod runAsGroup {UID}"
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
    """Credentials via *_FILE from a mounted Secret; migrations at /migrations."""
    cw = f"{doc['kind']}/{doc['metadata']['name']} container {c['name']}"
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
        assert "--wait" in args, f"{cw}: verify initContainer needs --wait"
        assert c in (spec.get("initContainers") or []), f"{cw}: verify --wait belongs in an initContainer"
    for unknown in [n for n in env if n.startswith("SCHEMAGATE_")]:
        assert unknown in KNOWN_SCHEMAGATE_VARS, f"{cw}: unknown variable {unknown} (schemagate exits 2)"


KNOWN_SCHEMAGATE_VARS = {
    "SCHEMAGATE_MIGRATIONS_DIR",
    "SCHEMAGATE_WAIT_TIMEOUT",
    "SCHEMAGATE_CONNECT_TIMEOUT",
    "SCHEMAGATE_LOCK_TIMEOUT",
    "SCHEMAGATE_HISTORY_TABLE",
    "SCHEMAGATE_CREATE_DATABASE",
    "SCHEMAGATE_OUT_OF_ORDER",
    "SCHEMAGATE_LOG_FORMAT",
    "SCHEMAGATE_LOG",
    "SCHEMAGATE_TERMINATION_LOG",
}


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


def assert_all(docs: list[dict]) -> None:
    workloads = [d for d in docs if pod_spec(d) is not None]
    assert workloads, "no workloads rendered"
    for d in workloads:
        assert_restricted(d)
        for c in schemagate_containers(d):
            assert_schemagate_container(d, c)
        if d["kind"] == "Job":
            assert_job(d)


def hook_of(doc: dict) -> dict:
    ann = doc["metadata"].get("annotations") or {}
    return {k: v for k, v in ann.items() if k.startswith("helm.sh/hook")}


def assert_helm_hooks(docs: list[dict]) -> None:
    jobs = [d for d in docs if d["kind"] == "Job"]
    assert len(jobs) == 1, f"expected one Job, got {len(jobs)}"
    job = jobs[0]
    h = hook_of(job)
    assert h.get("helm.sh/hook") == "pre-install,pre-upgrade", f"Job hook: {h}"
    assert h.get("helm.sh/hook-delete-policy") == "before-hook-creation,hook-succeeded", f"Job delete policy: {h}"
    weight = int(h["helm.sh/hook-weight"])
    for d in docs:
        if d is job:
            continue
        # Whatever the Job mounts must exist before it: as a hook of lower weight.
        if d["kind"] in ("ConfigMap", "Secret"):
            dh = hook_of(d)
            assert dh.get("helm.sh/hook") == "pre-install,pre-upgrade", f"{d['kind']} must be a pre-install hook too"
            assert int(dh["helm.sh/hook-weight"]) < weight, f"{d['kind']} weight must be below the Job's {weight}"
            assert "before-hook-creation" in dh.get("helm.sh/hook-delete-policy", ""), f"{d['kind']} delete policy"
        elif d["kind"] == "Deployment":
            assert not hook_of(d), "the example app is an ordinary resource, not a hook"
    hooked = {d["metadata"]["name"] for d in docs if hook_of(d) and d is not job}
    created_here = {d["metadata"]["name"] for d in docs if d["kind"] in ("ConfigMap", "Secret")}
    assert created_here <= hooked, f"release-created ConfigMap/Secret not hooked: {created_here - hooked}"


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


def annotations(doc: dict) -> dict:
    return doc["metadata"].get("annotations") or {}


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


def load_values(p: Path) -> dict:
    return yaml.safe_load(p.read_text()) or {}


def render(values: dict, name: str = "shop", is_upgrade: bool = False) -> list[dict]:
    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(values)
        manifests = chart.render(
            values, name=name, namespace="prod", is_install=not is_upgrade, is_upgrade=is_upgrade
        )
    docs = []
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt") or not text.strip():
            continue
        docs.extend(docs_of(text))
    return docs


@check("helm chart metadata (Chart.yaml apiVersion v2, appVersion, kubeVersion)")
def _():
    with helm.Chart.load(str(CHART)) as chart:
        assert chart.name == "schemagate", chart.name
    meta = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert meta["apiVersion"] == "v2" and meta.get("appVersion") and meta.get("kubeVersion"), meta


for vf in [None, *VALUES_FILES]:
    label = "chart defaults" if vf is None else vf.name

    @check(f"helm lint --strict ({label})")
    def _(vf=vf):
        values = load_values(vf) if vf else None
        for kube in ("v1.25.0", "v1.33.0"):
            report = helm.lint(str(CHART), values, strict=True, kube_version=kube)
            bad = [m for m in report["messages"] if m["severity"] >= 2] + report.get("errors", [])
            assert not bad, f"lint ({kube}): {bad}"

    for upgrade in (False, True):
        phase = "upgrade" if upgrade else "install"

        @check(f"helm render ({label}, {phase}) + kubernetes-validate --strict + security fields + hooks")
        def _(vf=vf, upgrade=upgrade, label=label, phase=phase):
            values = load_values(vf) if vf else {}
            docs = render(values, is_upgrade=upgrade)
            out = OUT / "helm" / f"{label.removesuffix('.yaml').replace(' ', '-')}-{phase}.yaml"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(yaml.safe_dump_all(docs, sort_keys=False))
            kubernetes_validate([out])
            assert_all(docs)
            assert_helm_hooks(docs)
            assert_argo_order(docs)


@check("helm render: migrations.files land byte for byte in the ConfigMap")
def _():
    values = load_values(CHART / "ci" / "configmap-values.yaml")
    docs = render(values)
    cm = next(d for d in docs if d["kind"] == "ConfigMap")
    assert cm["data"] == values["migrations"]["files"], "ConfigMap data differs from the files"


@check("helm render: connection env follows values (urlKey -> DATABASE_URL_FILE only)")
def _():
    docs = render(load_values(CHART / "ci" / "url-tls-values.yaml"))
    job = next(d for d in docs if d["kind"] == "Job")
    env = {e["name"] for e in pod_spec(job)["containers"][0]["env"]}
    assert "DATABASE_URL_FILE" in env and not env & {"POSTGRES_HOST", "POSTGRES_PASSWORD_FILE"}, env
    assert "SCHEMAGATE_HISTORY_TABLE" in env, env
    docs = render(load_values(CHART / "ci" / "example-app-values.yaml"))
    job = next(d for d in docs if d["kind"] == "Job")
    c = pod_spec(job)["containers"][0]
    env = {e["name"]: e.get("value") for e in c["env"]}
    assert env["POSTGRES_SSLMODE"] == "verify-full" and env["POSTGRES_SSLROOTCERT"] == "/etc/schemagate/ca/ca.crt", env
    assert c["image"].startswith("registry.example.com/platform/schemagate@sha256:"), c["image"]
    app = next(d for d in docs if d["kind"] == "Deployment")
    init = pod_spec(app)["initContainers"][0]
    assert init["args"] == ["verify", "--wait"], init["args"]


for bad in sorted(BAD_VALUES.glob("*.yaml")):

    @check(f"values.schema.json / templates reject {bad.name}")
    def _(bad=bad):
        values = load_values(bad)
        try:
            render(values)
        except helm.HelmError as e:
            msg = str(e)
            expect = bad.read_text().splitlines()[0].removeprefix("# expect:").strip()
            assert expect.lower() in msg.lower(), f"rejected, but the message lacks {expect!r}: {msg}"
        else:
            raise AssertionError("accepted")


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
    "restartPolicy OnFailure": lambda s: s.update(restartPolicy="OnFailure"),
}


@check("assertions catch regressions (security fields, secrets, Job, hooks)")
def _():
    base = render(load_values(CHART / "ci" / "configmap-values.yaml"))
    assert_all(base)
    missed = []
    for what, mutate in MUTATIONS.items():
        docs = copy.deepcopy(base)
        mutate(pod_spec(next(d for d in docs if d["kind"] == "Job")))
        try:
            assert_all(docs)
        except AssertionError:
            continue
        missed.append(what)
    for what, mutate in {
        "short ttl": lambda j: j["spec"].update(ttlSecondsAfterFinished=60),
        "post-install hook": lambda j: j["metadata"]["annotations"].update({"helm.sh/hook": "post-install"}),
        "no hook-succeeded": lambda j: j["metadata"]["annotations"].update(
            {"helm.sh/hook-delete-policy": "before-hook-creation"}
        ),
        "ConfigMap after Job": lambda j: j["metadata"]["annotations"].update({"helm.sh/hook-weight": "-100"}),
    }.items():
        docs = copy.deepcopy(base)
        mutate(next(d for d in docs if d["kind"] == "Job"))
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
