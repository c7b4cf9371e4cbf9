#!/usr/bin/env bash
# make deploy-test: deploy/compose run for real on this machine's Docker daemon.
#
#   bash scripts/deploy-test.sh [BUILD_DIR]
#
# Installs docker.io (and docker-compose, debootstrap) and starts dockerd when none runs,
# builds the images from BUILD_DIR/bin (scripts/build-images.sh), makes keys, brings the
# stack up (learner, param-broadcast, one rollout worker, two graders, Prometheus), waits
# for learner steps, scales workers 1 -> 3 and checks sampling throughput rises, SIGKILLs a
# worker container holding a lease and checks the lease is granted again, checks every
# Prometheus target is up and the alert rules loaded, reads the learner's step and reward
# from Prometheus's HTTP API, and takes everything down again, on failure too. Traffic
# stays on the Compose network the test makes (host ports: loopback, picked by Docker).
# Environment: R1RL_DEPLOY_KEEP_IMAGES=1 keeps the test's images; R1RL_DEPLOY_TIMEOUT
# (seconds, default 900) bounds every wait together; R1RL_DEPLOY_WORKER_CPUS (0.1) is each
# worker container's CPU quota.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir="$(realpath "${1:-build}")"
t0=$(date +%s)
deadline=$(( t0 + ${R1RL_DEPLOY_TIMEOUT:-900} ))
project=r1rl-deploytest
tag=deploytest

log() { echo "deploy-test [$(( $(date +%s) - t0 )) s]: $*" >&2; }
fail() { log "FAILED: $*"; exit 1; }

# ---- Docker -------------------------------------------------------------------------------
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
  missing+=(docker-compose)
fi
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
started_dockerd=0
if ! docker info >/dev/null 2>&1; then
  log "starting dockerd (log: /var/log/r1rl-dockerd.log)"
  dockerd >/var/log/r1rl-dockerd.log 2>&1 &
  started_dockerd=1
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  docker info >/dev/null 2>&1 || fail "dockerd did not answer within 60 s (/var/log/r1rl-dockerd.log)"
fi
if docker compose version >/dev/null 2>&1; then
  compose_cli=(docker compose)
else
  compose_cli=(docker-compose)
fi
log "docker $(docker version -f '{{.Server.Version}}'), $("${compose_cli[@]}" version --short 2>/dev/null || true) (${compose_cli[*]})"

# ---- images, keys, config -------------------------------------------------------------------
work="$(mktemp -d /tmp/r1rl-deploytest.XXXXXX)"
compose() {
  "${compose_cli[@]}" -p "$project" -f deploy/compose/docker-compose.yml -f "$work/test.yml" "$@"
}
cleanup() {
  rc=$?
  if [ "$rc" != 0 ]; then
    log "logs of the failed run (last 30 lines each):"
    compose logs --no-color --tail 30 2>&1 | tail -200 || true
  fi
  compose down -v --remove-orphans -t 10 >/dev/null 2>&1 || true
  # Whatever a profile or a failed step left: everything labelled with this project.
  local label="label=com.docker.compose.project=$project"
  docker ps -aq --filter "$label" | xargs -r docker rm -f >/dev/null 2>&1 || true
  docker volume ls -q --filter "$label" | xargs -r docker volume rm >/dev/null 2>&1 || true
  docker network ls -q --filter "$label" | xargs -r docker network rm >/dev/null 2>&1 || true
  if [ "${R1RL_DEPLOY_KEEP_IMAGES:-0}" != 1 ]; then
    docker rmi "r1rl:$tag" "r1rl-prometheus:$tag" >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  if [ "$started_dockerd" = 1 ]; then
    kill "$(cat /var/run/docker.pid 2>/dev/null)" 2>/dev/null || true
  fi
  log "cleaned up; $( [ "$rc" = 0 ] && echo passed || echo "failed (exit $rc)") in $(( $(date +%s) - t0 )) s"
}
trap cleanup EXIT
trap 'exit 143' TERM INT   # so cleanup runs when the test is stopped

start=$(date +%s)
bash scripts/build-images.sh --build-dir "$build_dir" --tag "$tag"
log "images built in $(( $(date +%s) - start )) s"

"$build_dir/bin/r1rl" keys init "$work/keys" --host learner --host param-broadcast >/dev/null
chown -R 10001:10001 "$work/keys"   # the image's user reads them
# The shipped config, with a run long enough for the test, short leases so a killed worker's
# lease comes back within seconds, and sampling one version ahead of learning
# (grpo.max_policy_lag 1): strictly on-policy, workers wait while the learner trains and a
# 16-prompt step is only two leases, which caps what more workers can add.
sed -e 's/^  steps: 60$/  steps: 100000/' -e 's/^  lease_seconds: 60$/  lease_seconds: 10/' \
  -e 's/^  max_policy_lag: 0 .*$/  max_policy_lag: 1/' deploy/compose/r1rl.yaml >"$work/r1rl.yaml"
for want in '  steps: 100000' '  lease_seconds: 10' '  max_policy_lag: 1'; do
  grep -qx "$want" "$work/r1rl.yaml" \
    || fail "deploy/compose/r1rl.yaml changed: cannot set '$want' for the test"
done

# Each worker gets a CPU quota of its own, as it would have its own machine (or GPU) in a
# cluster: uncapped on a small machine, three workers and the learner share the same cores
# and sampling cannot scale however many workers there are. The quota is small enough that
# three workers stay below what the learner trains (as in a real cluster, sampling is the
# bottleneck): at 0.3 CPU each, a 2-core VM whose worker samples ~13,000 tokens per CPU-second
# had three workers waiting on the learner (4,037 -> 5,986 tokens/s, 1.48x).
printf 'services:\n  rollout-worker:\n    cpus: %s\n' "${R1RL_DEPLOY_WORKER_CPUS:-0.1}" >"$work/test.yml"

export R1RL_IMAGE="r1rl:$tag" R1RL_PROMETHEUS_IMAGE="r1rl-prometheus:$tag"
export R1RL_CONFIG="$work/r1rl.yaml" R1RL_KEYS="$work/keys" OPENBLAS_NUM_THREADS=1
export R1RL_LEARNER_METRICS_PORT="" R1RL_PROMETHEUS_PORT="" R1RL_GRAFANA_PORT=""

# ---- up -------------------------------------------------------------------------------------
start=$(date +%s)
compose up -d --scale rollout-worker=1 --scale reward-grader=2 \
  learner param-broadcast rollout-worker reward-grader prometheus
prom="$(compose port prometheus 9090)"
[ -n "$prom" ] || fail "no host port for prometheus"
log "stack up in $(( $(date +%s) - start )) s; Prometheus on $prom"

# query EXPR: the first value of an instant query, or "nan" when it has none.
query() {
  curl -sf --max-time 5 "http://$prom/api/v1/query" --data-urlencode "query=$1" | python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "nan")' 2>/dev/null || echo nan
}
# wait_for WHAT EXPR: until EXPR (PromQL, compared in Python) is true, within the deadline.
wait_for() {
  local what="$1" expr="$2" v
  while :; do
    v="$(query "$expr")"
    if [ "$v" != nan ]; then log "$what: $v"; return 0; fi
    [ "$(date +%s)" -lt "$deadline" ] || fail "timed out waiting for $what ($expr)"
    sleep 2
  done
}

wait_for "learner steps" 'r1rl_learner_steps_total >= 2'
log "stack up to the second learner step in $(( $(date +%s) - start )) s"

# ---- scale 1 -> 3 -----------------------------------------------------------------------------
window=60
# tokens sampled by all workers in the last WINDOW seconds, counted on the learner's side of
# the fleet: each live worker's counter, so a worker that starts late adds from zero.
tokens() {
  local v i
  for i in $(seq 10); do
    v="$(query "sum(r1rl_worker_tokens_generated_total)")"
    [ "$v" != nan ] && break
    sleep 2
  done
  echo "$v"
}
measure() {
  local a b
  a="$(tokens)"; sleep "$window"; b="$(tokens)"
  if [ "$a" = nan ] || [ "$b" = nan ]; then
    log "no worker token counts in Prometheus ($a, $b); targets:"
    curl -s "http://$prom/api/v1/targets" >&2 || true
    return 1
  fi
  python3 -c "print(f'{($b - $a) / $window:.1f}')"
}
wait_for "tokens sampled by the worker" 'sum(r1rl_worker_tokens_generated_total) > 0'
rate1="$(measure)" || fail "sampling throughput with 1 worker"
log "1 worker: $rate1 tokens/s sampled"
compose up -d --no-recreate --scale rollout-worker=3 --scale reward-grader=2 \
  rollout-worker reward-grader
wait_for "3 workers scraped and sampling" \
  'count(rate(r1rl_worker_tokens_generated_total[30s]) > 0) >= 3'
rate3="$(measure)" || fail "sampling throughput with 3 workers"
log "3 workers: $rate3 tokens/s sampled ($(python3 -c "print(f'{$rate3 / $rate1:.2f}')")x)"
python3 -c "import sys; sys.exit(0 if $rate3 > 1.5 * $rate1 else 1)" \
  || fail "sampling throughput did not rise with 3 workers ($rate1 -> $rate3 tokens/s)"

# ---- Prometheus: targets and rules --------------------------------------------------------------
curl -sf "http://$prom/api/v1/targets" | python3 -c '
import json, sys
t = json.load(sys.stdin)["data"]["activeTargets"]
jobs = {}
for x in t:
    jobs.setdefault(x["labels"]["job"], []).append(x["health"])
print("targets:", {j: h for j, h in sorted(jobs.items())})
need = {"learner": 1, "param-broadcast": 1, "rollout-worker": 3, "reward-grader": 2, "prometheus": 1}
bad = [j for j, n in need.items() if jobs.get(j, []).count("up") != n]
down = [x["scrapeUrl"] + ": " + x["lastError"] for x in t if x["health"] != "up"]
sys.exit(("targets not up: " + ", ".join(bad) + " " + "; ".join(down)) if bad or down else 0)' \
  || fail "Prometheus targets"
curl -sf "http://$prom/api/v1/rules" | python3 -c '
import json, sys
g = json.load(sys.stdin)["data"]["groups"]
rules = [r for x in g for r in x["rules"]]
bad = [r["name"] + ": " + r.get("lastError", "") for r in rules if r.get("health") == "err"]
print("alert rules loaded:", len(rules), "in", len(g), "groups")
sys.exit("no alert rules loaded" if not rules else ("rules in error: " + "; ".join(bad) if bad else 0))' \
  || fail "Prometheus rules"

# ---- SIGKILL a worker holding a lease -------------------------------------------------------------
# Inside a worker's container, in one step: read its own /metrics and, when it has leased
# more prompts than it has pushed groups (it holds a lease), SIGKILL the worker process
# (init: true makes it PID 1's child, and the container ends with it). Exit 3: no lease held.
kill_if_leasing='
exec 3<>/dev/tcp/127.0.0.1/9102 && printf "GET /metrics HTTP/1.0\r\n\r\n" >&3 || exit 4
while read -r name value; do
  case "$name" in
    r1rl_worker_prompts_leased_total) leased=${value%.*} ;;
    r1rl_worker_groups_pushed_total) pushed=${value%.*} ;;
  esac
done <&3
[ -n "$leased" ] && [ -n "$pushed" ] && [ "$leased" -gt "$pushed" ] || exit 3
for p in /proc/[0-9]*; do
  if tr "\0" " " <"$p/cmdline" 2>/dev/null | grep -q "^r1rl-rollout-worker "; then
    kill -KILL "${p#/proc/}" && echo "$leased $pushed" && exit 0
  fi
done
exit 5'
regranted=0
for attempt in 1 2 3 4 5; do
  before="$(query 'r1rl_controller_leases_reissued_total')"
  killed=""
  while [ -z "$killed" ]; do
    for c in $(compose ps -q rollout-worker); do
      if out="$(docker exec "$c" bash -c "$kill_if_leasing" 2>/dev/null)"; then
        killed="$c"
        log "SIGKILLed the worker in ${c:0:12} while it held a lease (leased ${out% *} prompts, pushed ${out#* } groups)"
        break
      fi
    done
    [ "$(date +%s)" -lt "$deadline" ] || fail "no worker held a lease"
  done
  # The lease expires after learner.lease_seconds (10) and goes to another worker.
  until_t=$(( $(date +%s) + 45 ))
  while [ "$(date +%s)" -lt "$until_t" ]; do
    v="$(query "r1rl_controller_leases_reissued_total > $before")"
    if [ "$v" != nan ]; then regranted=1; break; fi
    sleep 2
  done
  if [ "$regranted" = 1 ]; then
    log "its lease granted again: r1rl_controller_leases_reissued_total $before -> $v"
    break
  fi
  # Its group had left just before the kill: back to 3 workers and try again.
  log "attempt $attempt: no lease came back (the group had left before the kill); again"
  compose up -d --no-recreate --scale rollout-worker=3 --scale reward-grader=2 \
    rollout-worker reward-grader >/dev/null 2>&1
done
[ "$regranted" = 1 ] || fail "a killed worker's lease was never granted again"
steps="$(query 'r1rl_learner_steps_total')"
wait_for "training going on after the kill" "r1rl_learner_steps_total > $steps"

# ---- the learner's step and reward, from Prometheus -------------------------------------------------
log "learner step $(query 'r1rl_learner_steps_total'), reward $(query 'r1rl_learner_reward'), policy version $(query 'r1rl_learner_policy_version')"

# ---- two learner ranks: the dp2 profile ------------------------------------------------------------
# A fresh stack whose learner is two data-parallel ranks in two containers (c10d Gloo,
# rendezvous on rank 0's TCPStore by the compose service name).
compose down -v --remove-orphans -t 10 >/dev/null 2>&1
start=$(date +%s)
R1RL_LEARNERS=2 compose --profile dp2 up -d --scale rollout-worker=2 --scale reward-grader=2 \
  learner learner-rank-1 param-broadcast rollout-worker reward-grader prometheus
prom="$(compose port prometheus 9090)"
wait_for "two learner ranks training" 'r1rl_learner_ranks == 2 and r1rl_learner_steps_total >= 3'
log "dp2 stack up to the third step in $(( $(date +%s) - start )) s"
log "images: r1rl $(docker image inspect -f '{{.Size}}' "r1rl:$tag" | awk '{printf "%.0f MB", $1/1e6}'), prometheus $(docker image inspect -f '{{.Size}}' "r1rl-prometheus:$tag" | awk '{printf "%.0f MB", $1/1e6}')"
log "all checks passed"
