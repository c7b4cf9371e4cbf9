#!/usr/bin/env bash
# A real Prometheus server (Debian's) scrapes a local cluster (1 learner, 2 workers, 1
# grader) with the alert rules shipped in deploy/prometheus/alerts.yml: every target is up,
# every rule evaluates without error against live series, training progress is visible
# through PromQL, and every r1rl_ metric the shipped alerts and Grafana dashboard name is
# one the services really export.
set -euo pipefail
R1RL=$(readlink -f "$1")
SRC=$(readlink -f "$2")
work=$(mktemp -d)
cd "$work"
cleanup() {
  [ -n "${PROM:-}" ] && kill "$PROM" 2>/dev/null && wait "$PROM" 2>/dev/null || true
  "$R1RL" cluster down --name pt >/dev/null 2>&1 || true
  cd /; rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -n 20 prometheus.log 2>/dev/null; for f in runs/pt/logs/*.log; do echo "--- $f"; tail -n 10 "$f"; done; exit 1; }

"$R1RL" cluster up --name pt --workers 2 --graders 1 --set grpo.steps=400 || fail "cluster up"

PORT=$(python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
python3 - "$SRC/deploy/prometheus/alerts.yml" > prometheus.yml <<'PY'
import json, sys
t = json.load(open("runs/pt/cluster.json"))
jobs = {"learner": "learner", "rollout_worker": "rollout-worker", "reward_grader": "reward-grader"}
print("global: {scrape_interval: 1s, evaluation_interval: 1s}")
print(f"rule_files: ['{sys.argv[1]}']")
print("scrape_configs:")
for kind, job in jobs.items():
    targets = [s["metrics"] for s in t["services"] if s["kind"] == kind]
    print(f"  - job_name: {job}\n    static_configs: [{{targets: {json.dumps(targets)}}}]")
PY
promtool check config prometheus.yml > /dev/null || fail "promtool check config"
prometheus --config.file=prometheus.yml --storage.tsdb.path=tsdb --web.listen-address=127.0.0.1:$PORT > prometheus.log 2>&1 &
PROM=$!

query() {  # PromQL -> the first sample's value, or "" while there is none
  python3 - "$PORT" "$1" <<'PY'
import json, sys, urllib.parse, urllib.request
url = f"http://127.0.0.1:{sys.argv[1]}/api/v1/query?" + urllib.parse.urlencode({"query": sys.argv[2]})
try:
    r = json.load(urllib.request.urlopen(url, timeout=5))
    res = r["data"]["result"]
    print(res[0]["value"][1] if res else "")
except Exception:
    print("")
PY
}
wait_query() {  # PromQL, python condition on v, what
  local deadline=$((SECONDS + 120)) v
  while true; do
    v=$(query "$1")
    if [ -n "$v" ] && python3 -c "import sys; v=float('$v'); sys.exit(0 if ($2) else 1)"; then echo "  $3: $v"; return 0; fi
    [ $SECONDS -lt $deadline ] || fail "$3: '$1' = '$v'"
    sleep 1
  done
}
echo "== targets and series"
wait_query 'count(up == 1)' 'v == 4' "targets up (1 learner, 2 workers, 1 grader)"
wait_query 'count(up{job="rollout-worker"} == 1)' 'v == 2' "workers up"
wait_query 'max(r1rl_learner_steps_total)' 'v >= 3' "learner steps"
wait_query 'sum(rate(r1rl_worker_tokens_generated_total[5s])) / sum(rate(r1rl_worker_generate_seconds_total[5s]))' 'v > 0' "worker tokens per sampling second"
wait_query 'histogram_quantile(0.5, sum by (le) (rate(r1rl_learner_step_seconds_bucket[30s])))' 'v > 0' "median step seconds"
wait_query 'sum(r1rl_controller_groups_ingested_total)' 'v >= 48' "groups ingested"
wait_query 'count(r1rl_controller_state{quantity="leases_waiting"})' 'v == 1' "leases waiting (the workers' HPA signal) exported"

echo "== the shipped alert rules evaluate on live series"
python3 - "$PORT" <<'PY' || fail "rules"
import json, sys, time, urllib.request
for _ in range(30):
    groups = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/api/v1/rules"))["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    if rules and all(r.get("lastEvaluation", "").startswith("20") and r["health"] != "unknown" for r in rules):
        break
    time.sleep(1)
bad = [(r["name"], r["health"], r.get("lastError", "")) for r in rules if r["health"] != "ok"]
print(f"  {len(rules)} rules, all evaluated: " + ", ".join(f"{r['name']} {r['state']}" for r in rules))
assert len(rules) >= 5 and not bad, bad
firing = [r["name"] for r in rules if r["state"] == "firing" and r["name"] in ("R1rlLearnerDown", "R1rlNoLiveWorkers")]
assert not firing, f"firing on a healthy cluster: {firing}"
PY

echo "== every metric the alerts and the dashboard name is exported"
python3 - "$SRC" <<'PY' || fail "metric names"
import json, re, sys, urllib.request
t = json.load(open("runs/pt/cluster.json"))
declared = set()
for s in t["services"]:
    for line in urllib.request.urlopen(f"http://{s['metrics']}/metrics", timeout=5).read().decode().splitlines():
        if line.startswith("# TYPE "):
            name, kind = line.split()[2:4]
            declared.add(name)
            if kind == "histogram": declared |= {name + "_bucket", name + "_sum", name + "_count"}
named = set()
for f in ("deploy/prometheus/alerts.yml", "deploy/grafana/dashboards/r1rl.json"):
    named |= set(re.findall(r"\br1rl_[a-z0-9_]+", open(f"{sys.argv[1]}/{f}").read()))
# prometheus-adapter: the series its rules read (their "as" names are the adapter's own).
import yaml
cm = yaml.safe_load(open(f"{sys.argv[1]}/deploy/k8s/prometheus-adapter.yaml"))
for r in yaml.safe_load(cm["data"]["config.yaml"])["rules"]:
    named |= set(re.findall(r"\br1rl_[a-z0-9_]+", r["seriesQuery"]))
missing = sorted(named - declared)
print(f"  {len(named)} names in alerts, dashboard and adapter rules, {len(declared)} exported; missing: {missing}")
assert not missing, missing
PY
"$R1RL" cluster down --name pt > /dev/null
echo "prometheus_test: OK"
