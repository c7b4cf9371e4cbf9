#!/usr/bin/env bash
# The deployment files checked without a cluster (issue 20):
#   deploy/k8s      rendered by `kubectl kustomize` with real keys (r1rl keys init), every
#                   object validated against the Kubernetes schemas (kubernetes-validate from
#                   PyPI, in a venv this test makes once), and checked for what operators rely
#                   on: probes on /healthz, resources, Secrets, PDBs and HPAs that match.
#   prometheus-adapter rules and every Grafana panel: each PromQL parsed by promtool.
#   deploy/compose  parsed by docker-compose or `docker compose` where one is installed.
# Which metrics the adapter names must be exported is checked live in prometheus_test.
set -euo pipefail
R1RL=$(readlink -f "$1")
SRC=$(readlink -f "$2")
VENV=$3
K8S_VERSION=1.30.0
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

echo "== kubectl kustomize deploy/k8s (with keys from r1rl keys init)"
cp -r "$SRC/deploy/k8s" "$work/k8s"
rm -rf "$work/k8s/keys"
"$R1RL" keys init "$work/k8s/keys" --host learner --host param-broadcast > /dev/null
kubectl kustomize "$work/k8s" > "$work/rendered.yaml" || fail "kubectl kustomize"
# Without keys kustomize must refuse: a cluster never starts insecure by accident.
rm -rf "$work/k8s/keys"
if kubectl kustomize "$work/k8s" > /dev/null 2>&1; then fail "kustomize built without keys"; fi

echo "== kubernetes-validate against Kubernetes $K8S_VERSION"
if [ ! -x "$VENV/bin/kubernetes-validate" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check kubernetes-validate==1.31.0 \
    || fail "pip install kubernetes-validate"
fi
python3 - "$work/rendered.yaml" "$work/split" <<'PY'
import os, sys, yaml
os.makedirs(sys.argv[2])
for i, d in enumerate(x for x in yaml.safe_load_all(open(sys.argv[1])) if x):
    yaml.safe_dump(d, open(f"{sys.argv[2]}/{i:03d}-{d['kind']}-{d['metadata']['name']}.yaml", "w"))
PY
"$VENV/bin/kubernetes-validate" --strict -k "$K8S_VERSION" "$work"/split/*.yaml \
  > "$work/validate.txt" 2>&1 || { cat "$work/validate.txt"; fail "kubernetes-validate"; }
echo "  $(ls "$work/split" | wc -l) objects valid"

echo "== what operators rely on"
python3 - "$work/rendered.yaml" <<'PY' || fail "manifest checks"
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
by = {}
for d in docs:
    by.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
errors = []
workloads = {**by.get("Deployment", {}), **by.get("StatefulSet", {})}
for want in ("learner", "rollout-worker", "reward-grader", "param-broadcast"):
    if want not in workloads:
        errors.append(f"no workload {want}")
if by["StatefulSet"]["learner"]["spec"].get("volumeClaimTemplates") is None:
    errors.append("learner: no volumeClaimTemplates for RocksDB and checkpoints")
if by["Service"].get("learner-headless", {}).get("spec", {}).get("clusterIP") != "None":
    errors.append("learner-headless: not a headless Service")
secrets = set(by.get("Secret", {}))
for name, w in workloads.items():
    spec = w["spec"]["template"]["spec"]
    for c in spec["containers"]:
        r = c.get("resources", {})
        if not r.get("requests") or not r.get("limits"):
            errors.append(f"{name}/{c['name']}: resources need requests and limits")
        if name == "prometheus":
            continue
        for probe in ("livenessProbe", "readinessProbe"):
            path = c.get(probe, {}).get("httpGet", {}).get("path")
            if path != "/healthz":
                errors.append(f"{name}/{c['name']}: {probe} is not /healthz ({path})")
    for v in spec.get("volumes", []):
        s = v.get("secret", {}).get("secretName")
        if s and s not in secrets:
            errors.append(f"{name}: mounts Secret {s}, which is not rendered")
def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.get("matchLabels", {}).items())
for name, p in by.get("PodDisruptionBudget", {}).items():
    hit = [w for w, d in workloads.items()
           if selects(p["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])]
    if not hit:
        errors.append(f"PodDisruptionBudget {name} selects no workload")
pdb_for = {w for w, d in workloads.items() for p in by.get("PodDisruptionBudget", {}).values()
           if selects(p["spec"]["selector"], d["spec"]["template"]["metadata"]["labels"])}
for want in ("learner", "rollout-worker", "reward-grader", "param-broadcast"):
    if want not in pdb_for:
        errors.append(f"{want}: no PodDisruptionBudget")
adapter = yaml.safe_load(by["ConfigMap"]["prometheus-adapter-r1rl"]["data"]["config.yaml"])
served = {r["name"]["as"] for r in adapter["rules"]}
hpas = by.get("HorizontalPodAutoscaler", {})
for want in ("rollout-worker", "reward-grader"):
    if want not in hpas:
        errors.append(f"no HorizontalPodAutoscaler for {want}")
for name, h in hpas.items():
    ref = h["spec"]["scaleTargetRef"]["name"]
    if ref not in workloads:
        errors.append(f"HPA {name}: scales {ref}, which does not exist")
    for m in h["spec"]["metrics"]:
        if m["type"] in ("Pods", "Object"):
            metric = m[m["type"].lower()]["metric"]["name"]
            if metric not in served:
                errors.append(f"HPA {name}: {metric} is not served by prometheus-adapter ({served})")
        if m["type"] == "Object":
            obj = m["object"]["describedObject"]
            if obj["kind"] == "Pod" and obj["name"] != "learner-0":
                errors.append(f"HPA {name}: described object {obj['name']}")
print(f"  {len(workloads)} workloads, {len(by.get('PodDisruptionBudget', {}))} PDBs, "
      f"{len(hpas)} HPAs on {sorted(served)}, {len(secrets)} Secrets")
if errors:
    print("\n".join(errors))
    sys.exit(1)
PY

echo "== promtool: every prometheus-adapter metricsQuery and Grafana panel parses"
python3 - "$work/rendered.yaml" "$SRC/deploy/grafana/dashboards/r1rl.json" > "$work/rules.yml" <<'PY'
import json, re, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
adapter = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "prometheus-adapter-r1rl")
exprs = []
for r in yaml.safe_load(adapter["data"]["config.yaml"])["rules"]:
    series = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", r["seriesQuery"]).group(0)
    q = (r["metricsQuery"].replace("<<.Series>>", series)
         .replace("<<.LabelMatchers>>", 'namespace="r1rl",pod=~"learner-0"')
         .replace("<<.GroupBy>>", "pod"))
    exprs.append(("adapter " + r["name"]["as"], q))
    exprs.append(("adapter series " + r["name"]["as"], r["seriesQuery"]))
def walk(panels):
    for p in panels:
        walk(p.get("panels", []))
        for t in p.get("targets", []):
            if t.get("expr"):
                e = t["expr"].replace("$__rate_interval", "1m").replace("$__interval", "15s")
                exprs.append((f"panel {p.get('title')!r}", e))
walk(json.load(open(sys.argv[2]))["panels"])
print("groups:\n  - name: checked\n    rules:")
for i, (what, e) in enumerate(exprs):
    print(f"      # {what}\n      - record: r1rl_check:expr_{i}\n        expr: {json.dumps(e)}")
print(f"{len(exprs)} expressions", file=sys.stderr)
PY
promtool check rules "$work/rules.yml" || fail "promtool check rules (adapter queries, Grafana panels)"

echo "== deploy/compose parses"
if docker compose version > /dev/null 2>&1; then compose=(docker compose)
elif command -v docker-compose > /dev/null; then compose=(docker-compose)
else compose=(); echo "  no docker-compose here: skipped (make deploy-test runs it)"; fi
if [ ${#compose[@]} -gt 0 ]; then
  (cd "$SRC/deploy/compose" && R1RL_KEYS="$work" "${compose[@]}" config -q) || fail "compose config"
  services=$(cd "$SRC/deploy/compose" && "${compose[@]}" config --services | sort | tr '\n' ' ')
  echo "  services: $services"
fi
echo "deploy_manifests_test: OK"
