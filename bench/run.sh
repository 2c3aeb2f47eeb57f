#!/usr/bin/env bash
# Proxy benchmarks (DESIGN.md §11): the sentinel's proxy side by side with
# a direct call, HAProxy and nginx (each set up for failover), on the same
# two nginx backends and the same load, steady and with the active backend
# killed mid-load; plus the sentinel's memory with 100 providers.
#
#   bash bench/run.sh                       # the default steps, ~8 minutes on a quiet machine
#   BENCH_STEPS=steady,max bash bench/run.sh
#
# Environment:
#   BENCH_STEPS      comma list of steady,max,failover,memory (default) and
#                    stall (optional: backend A hung with SIGSTOP instead of killed),
#                    realistic (optional: backends that answer in 20-50 ms with 1 %
#                    500s and 0.2 % stalls of 1 s; each proxy as configured for
#                    the other steps, on ports of its own; BENCH_REAL_ROUNDS, 2),
#                    conns (optional: 10,000 idle keep-alive client connections
#                    held open; memory per connection and throughput meanwhile,
#                    the sentinel against nginx; BENCH_CONNS, 10000).
#                    memory starts a second sentinel (10 services x 10 providers)
#                    at the beginning: its RSS is read at 10/30/60 s, and it is a
#                    fifth target of the max rounds.
#   BENCH_OUT        where raw outputs and summary.md go (default bench/results/latest)
#   BENCH_IDLE_WAIT  seconds to wait for the CPUs to go quiet before a measurement (default 180)
#   BENCH_MAX_ROUNDS rounds of the max-throughput runs (default 2)
#   SENTINEL_BIN     use this binary instead of building
#   BENCH_PORT_A, BENCH_PORT_B, BENCH_PORT_SENTINEL, BENCH_PORT_HAPROXY,
#   BENCH_PORT_NGINX, BENCH_PORT_MEM   ports on 127.0.0.1 (18001, 18002,
#                    18080, 18081, 18082, 18083)
#   CARGO_TARGET_DIR honoured for the build
#
# Everything listens on 127.0.0.1 only. Every process started here is
# tracked by pid and killed on exit (trap EXIT); every wait is bounded.

set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
HELPER=$BENCH/helper.py
STEPS=",${BENCH_STEPS:-steady,max,failover,memory},"
OUT=${BENCH_OUT:-$BENCH/results/latest}
IDLE_WAIT=${BENCH_IDLE_WAIT:-180}
MAX_ROUNDS=${BENCH_MAX_ROUNDS:-2}

PORT_A=${BENCH_PORT_A:-18001}        # backend A (active)
PORT_B=${BENCH_PORT_B:-18002}        # backend B (standby / backup)
PORT_SENT=${BENCH_PORT_SENTINEL:-18080} # sentinel run
PORT_HAP=${BENCH_PORT_HAPROXY:-18081}  # HAProxy
PORT_NGX=${BENCH_PORT_NGINX:-18082}    # nginx as proxy
PORT_MEM=${BENCH_PORT_MEM:-18083}      # the 100-provider sentinel
PORT_RA=${BENCH_PORT_RA:-18011}        # realistic step: backend A
PORT_RB=${BENCH_PORT_RB:-18012}        # realistic step: backend B
PORT_RSENT=${BENCH_PORT_RSENTINEL:-18090} # realistic step: sentinel, HAProxy (+1), nginx (+2)

declare -A URL=(
  [direct]="http://127.0.0.1:$PORT_A/v1/price"
  [sentinel]="http://127.0.0.1:$PORT_SENT/proxy/bench/v1/price"
  [sentinel-hedge]="http://127.0.0.1:$PORT_SENT/proxy/bench/v1/price"
  [sentinel-100]="http://127.0.0.1:$PORT_MEM/proxy/svc00/v1/price"
  [haproxy]="http://127.0.0.1:$PORT_HAP/v1/price"
  [nginx]="http://127.0.0.1:$PORT_NGX/v1/price"
)

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }
has_step() { [[ $STEPS == *",$1,"* ]]; }

# ------------------------------------------------------------------ cleanup

WORK=$(mktemp -d /tmp/sentinel-bench.XXXXXX)
PIDS=()   # every long-lived process we start

kill_tree() { # pid...: TERM the processes and their direct children, then KILL what is left
  local p all=()
  for p in "$@"; do
    [[ -n $p ]] || continue
    all+=("$p")
    while read -r c; do [[ -n $c ]] && all+=("$c"); done < <(pgrep -P "$p" 2>/dev/null || true)
  done
  ((${#all[@]})) || return 0
  kill -TERM "${all[@]}" 2>/dev/null || true
  for _ in $(seq 1 30); do
    local alive=0
    for p in "${all[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    ((alive)) || return 0
    sleep 0.1
  done
  kill -KILL "${all[@]}" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if ((${#PIDS[@]})); then kill_tree "${PIDS[@]}"; fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'echo "bench: error: line $LINENO: \`$BASH_COMMAND\` failed" >&2' ERR

# ------------------------------------------------------------------ tools

need_root_install() {
  if [[ $(id -u) -ne 0 ]]; then
    die "missing $*; install with: sudo apt-get install -y nginx-light haproxy hey wrk"
  fi
  command -v apt-get >/dev/null || die "missing $* and no apt-get to install it"
  log "installing nginx-light haproxy hey wrk"
  DEBIAN_FRONTEND=noninteractive apt-get install -y nginx-light haproxy hey wrk >"$WORK/apt.log" 2>&1 ||
    { apt-get update >>"$WORK/apt.log" 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y nginx-light haproxy hey wrk >>"$WORK/apt.log" 2>&1; } ||
    { tail -20 "$WORK/apt.log" >&2; die "apt-get install failed"; }
}

PATH=$PATH:/usr/sbin:/sbin
missing=()
for t in nginx haproxy hey wrk; do command -v "$t" >/dev/null || missing+=("$t"); done
((${#missing[@]} == 0)) || need_root_install "${missing[*]}"
for t in nginx haproxy hey wrk python3 curl pgrep timeout; do
  command -v "$t" >/dev/null || die "$t is required but not on PATH"
done

if [[ -n ${SENTINEL_BIN:-} ]]; then
  SENT=$SENTINEL_BIN
else
  command -v cargo >/dev/null || die "cargo is required (or set SENTINEL_BIN)"
  log "building sentinel-cli (release; waits for the cargo build lock if CI holds it)"
  (cd "$ROOT" && cargo build --release -p sentinel-cli) || die "cargo build failed"
  TD=${CARGO_TARGET_DIR:-$ROOT/target}
  [[ $TD = /* ]] || TD=$ROOT/$TD
  SENT=$TD/release/sentinel
fi
[[ -x $SENT ]] || die "no sentinel binary at $SENT"

# ------------------------------------------------------------------ helpers

mkdir -p "$OUT"
# Only the files this script writes: BENCH_OUT may be a directory with other things in it.
rm -f "$OUT"/steady-*.txt* "$OUT"/max-*.txt "$OUT"/failover-*.txt "$OUT"/stall-*.txt \
  "$OUT"/*sentinel*.log "$OUT"/*-route.jsonl "$OUT"/mem-samples.jsonl "$OUT"/summary.md
RESULTS=$OUT/results.jsonl
: >"$RESULTS"

emit() { # exp target json... -> one merged line in results.jsonl
  python3 -c 'import json,sys
d={"exp":sys.argv[1],"target":sys.argv[2]}
for j in sys.argv[3:]: d.update(json.loads(j))
print(json.dumps(d))' "$@" >>"$RESULTS"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_url() { # url [header-substring] [seconds]: until 200 (and the header), bounded
  local url=$1 want=${2:-} secs=${3:-10} i
  for ((i = 0; i < secs * 10; i++)); do
    local h
    if h=$(curl -s -o /dev/null -D - --max-time 1 "$url" 2>/dev/null) &&
      [[ $h == "HTTP/1.1 200"* ]] && { [[ -z $want ]] || grep -qi "$want" <<<"$h"; }; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

cpu_busy_pct() { # share of non-idle CPU time over one second
  local a b
  read -r -a a < <(head -1 /proc/stat)
  sleep 1
  read -r -a b < <(head -1 /proc/stat)
  local ta=0 tb=0 i
  for ((i = 1; i < ${#a[@]}; i++)); do ta=$((ta + a[i])); tb=$((tb + b[i])); done
  local idle=$(((b[4] + b[5]) - (a[4] + a[5]))) total=$((tb - ta))
  ((total > 0)) || { echo 0; return; }
  echo $((100 - 100 * idle / total))
}

wait_idle() { # what: bounded wait until the machine is quiet (a CI run may be compiling)
  local t0=$SECONDS busy
  while :; do
    busy=$(cpu_busy_pct)
    ((busy < 15)) && return 0
    if ((SECONDS - t0 >= IDLE_WAIT)); then
      log "CPU still ${busy}% busy after ${IDLE_WAIT}s; going ahead with $1 (figures will be noisier)"
      emit note - '{}' "{\"text\":\"the machine was ${busy}% busy (other jobs) before $1; that figure is noisier\"}"
      return 0
    fi
    log "CPU busy ${busy}% before $1: waiting for other jobs (up to ${IDLE_WAIT}s)"
    sleep 3
  done
}

# CPU accounting: how much of the machine went to processes that are not
# part of the benchmark (a CI build, another engineer's tests) while a
# measurement ran. "Ours" = every process started here and their children
# (still alive), plus this shell and the children it has waited for (hey,
# wrk, curl, python: their time lands in cutime/cstime).
proc_ticks() { # pid -> utime+stime (+cutime+cstime when $2 = all)
  local s f
  s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  s=${s##*) }
  read -r -a f <<<"$s"
  if [[ ${2:-} == all ]]; then echo $((f[11] + f[12] + f[13] + f[14])); else echo $((f[11] + f[12])); fi
}
cpu_mark() { # -> "busy total ours" in clock ticks
  local a i total=0 busy ours p c
  read -r -a a </proc/stat
  for ((i = 1; i < ${#a[@]}; i++)); do total=$((total + a[i])); done
  busy=$((total - a[4] - a[5]))
  ours=$(proc_ticks $$ all)
  for p in "${PIDS[@]}"; do
    [[ -d /proc/$p ]] || continue
    ours=$((ours + $(proc_ticks "$p")))
    for c in $(pgrep -P "$p" 2>/dev/null || true); do ours=$((ours + $(proc_ticks "$c"))); done
  done
  echo "$busy $total $ours"
}
tree_ticks() { # pid -> CPU ticks of it and its children (nginx master + workers)
  local t c
  t=$(proc_ticks "$1")
  for c in $(pgrep -P "$1" 2>/dev/null || true); do t=$((t + $(proc_ticks "$c"))); done
  echo "$t"
}
target_pid() { # target -> the pid whose CPU is the target's cost
  case $1 in
    direct) echo "${BACKEND_PID[a]}" ;;
    sentinel) echo "$MAIN_SENT_PID" ;;
    haproxy) echo "$HAP_PID" ;;
    nginx) echo "$NGX_PID" ;;
    sentinel-100) echo "$MEM_PID" ;;
    *) die "no pid for target $1" ;;
  esac
}
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
cpu_per_req_json() { # ticks-before ticks-after requests -> {"proxy_cpu_us": x}
  python3 -c 'import sys,json
d=int(sys.argv[2])-int(sys.argv[1]); n=float(sys.argv[3] or 0); hz=int(sys.argv[4])
print(json.dumps({"proxy_cpu_us": round(d*1e6/hz/n,1) if n>0 else None}))' "$1" "$2" "$3" "$CLK_TCK"
}
other_cpu_json() { # "mark-before" "mark-after" -> {"other_cpu_pct": x}
  python3 -c 'import sys,json
b=[int(x) for x in sys.argv[1].split()]; a=[int(x) for x in sys.argv[2].split()]
tot=max(1,a[1]-b[1]); other=max(0,(a[0]-b[0])-(a[2]-b[2]))
print(json.dumps({"other_cpu_pct": round(100.0*other/tot,1)}))' "$1" "$2"
}

render() { # template out KEY=VALUE...
  local tpl=$1 out=$2 args=() kv
  shift 2
  for kv in "$@"; do args+=(-e "s|@${kv%%=*}@|${kv#*=}|g"); done
  sed "${args[@]}" "$tpl" >"$out"
  ! grep -q '@[A-Z_]*@' "$out" || die "unrendered placeholder in $out"
}

# ------------------------------------------------------------------ processes

declare -A BACKEND_PID=()

start_backend() { # name port
  local name=$1 port=$2 d=$WORK/backend-$1
  mkdir -p "$d/tmp"
  render "$BENCH/conf/backend-nginx.conf.in" "$d/nginx.conf" \
    DIR="$d" PORT="$port" NAME="$name" NOW="$(date +%s)"
  port_free "$port" || die "port $port is in use (backend $name)"
  nginx -p "$d/" -e "$d/error.log" -c "$d/nginx.conf" >"$d/stdout.log" 2>&1 &
  BACKEND_PID[$name]=$!
  PIDS+=($!)
  wait_url "http://127.0.0.1:$port/health" "" 10 || { cat "$d/error.log" >&2; die "backend $name did not start"; }
}

kill9_backend() { # name: kill -9 the nginx master and its worker
  local name=$1 master=${BACKEND_PID[$1]} workers
  workers=$(pgrep -P "$master" | tr '\n' ' ' || true)
  # shellcheck disable=SC2086
  kill -9 "$master" $workers 2>/dev/null || true
  wait "$master" 2>/dev/null || true
  # shellcheck disable=SC2086
  for _ in $(seq 1 50); do kill -0 "$master" $workers 2>/dev/null || break; sleep 0.05; done
}

ensure_backend_a() {
  if ! kill -0 "${BACKEND_PID[a]:-0}" 2>/dev/null || ! wait_url "http://127.0.0.1:$PORT_A/health" "" 1; then
    log "restarting backend A"
    kill9_backend a 2>/dev/null || true
    start_backend a "$PORT_A"
  fi
}

SENT_PID=
start_sentinel() { # config port data-dir log [extra args] -> SENT_PID
  local cfg=$1 port=$2 data=$3 logf=$4
  shift 4
  port_free "$port" || die "port $port is in use (sentinel)"
  "$SENT" check --config "$cfg" >/dev/null || die "sentinel check rejected $cfg"
  SENTINEL_LOG=${SENTINEL_LOG:-info} "$SENT" run --config "$cfg" --listen "127.0.0.1:$port" \
    --data "$data" --stop-after 900 "$@" >"$logf" 2>&1 &
  SENT_PID=$!
  PIDS+=($!)
  wait_url "http://127.0.0.1:$port/healthz" "" 15 || wait_url "http://127.0.0.1:$port/v1/services" "" 5 ||
    { tail -20 "$logf" >&2; die "sentinel on $port did not start"; }
}

stop_pid() { kill_tree "$1"; wait "$1" 2>/dev/null || true; }

start_haproxy() {
  local d=$WORK/haproxy
  mkdir -p "$d"
  render "$BENCH/conf/haproxy.cfg.in" "$d/haproxy.cfg" DIR="$d" PORT=$PORT_HAP PORT_A=$PORT_A PORT_B=$PORT_B
  haproxy -c -q -f "$d/haproxy.cfg" || die "haproxy rejected its config"
  port_free $PORT_HAP || die "port $PORT_HAP is in use (haproxy)"
  haproxy -db -f "$d/haproxy.cfg" >"$d/haproxy.log" 2>&1 &
  HAP_PID=$!
  PIDS+=($!)
  wait_url "${URL[haproxy]}" "x-backend: a" 15 || { tail "$d/haproxy.log" >&2; die "haproxy did not start"; }
}

start_nginx_proxy() {
  local d=$WORK/nginx-proxy
  mkdir -p "$d/tmp"
  # As many workers as cores, like HAProxy's default nbthread and the
  # sentinel's tokio runtime.
  render "$BENCH/conf/nginx-proxy.conf.in" "$d/nginx.conf" DIR="$d" PORT=$PORT_NGX \
    PORT_A=$PORT_A PORT_B=$PORT_B WORKERS=auto
  port_free $PORT_NGX || die "port $PORT_NGX is in use (nginx proxy)"
  nginx -p "$d/" -e "$d/error.log" -c "$d/nginx.conf" >"$d/stdout.log" 2>&1 &
  NGX_PID=$!
  PIDS+=($!)
  wait_url "${URL[nginx]}" "x-backend: a" 10 || { cat "$d/error.log" >&2; die "nginx proxy did not start"; }
}

mem_row() { # what when pid
  local s
  s=$(python3 "$HELPER" status "$3") || return 0
  emit memory "$1" "{\"after\":\"$2\"}" "$s"
  log "memory of $1, $2: $s"
}

# ------------------------------------------------------------------ setup

log "work dir $WORK, results in $OUT"
for p in $PORT_A $PORT_B $PORT_SENT $PORT_HAP $PORT_NGX $PORT_MEM; do
  port_free "$p" || die "port $p on 127.0.0.1 is in use; stop whatever holds it"
done
emit meta - '{}' "$(python3 - "$SENT" "$ROOT" <<'EOF'
import json, os, platform, subprocess, sys, time
def git(*a):
    try:
        return subprocess.run(["git", "-C", sys.argv[2], *a], capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""
def ver(pkg):
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True, text=True).stdout or "?"
    except OSError:
        return "?"
cpu = "?"
try:
    cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
except Exception:
    pass
print(json.dumps({
    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    "commit": git("rev-parse", "--short", "HEAD") + (
        " + uncommitted changes" if git("status", "--porcelain", "--", "cli", "shared", "Cargo.toml", "Cargo.lock") else ""),
    "machine": "%d cores (%s), Linux %s; nginx %s, haproxy %s, hey %s, wrk %s" % (
        os.cpu_count(), cpu, platform.release(), ver("nginx-light") if ver("nginx-light") != "?" else ver("nginx"),
        ver("haproxy"), ver("hey"), ver("wrk")),
}))
EOF
)"

start_backend a $PORT_A
start_backend b $PORT_B
render "$BENCH/conf/sentinel.toml.in" "$WORK/sentinel.toml" PORT_A=$PORT_A PORT_B=$PORT_B
start_sentinel "$WORK/sentinel.toml" $PORT_SENT "$WORK/sentinel-data" "$OUT/sentinel.log"
MAIN_SENT_PID=$SENT_PID
wait_url "${URL[sentinel]}" "x-backend: a" 15 || die "the sentinel does not proxy to A"
start_haproxy
start_nginx_proxy
for t in direct sentinel haproxy nginx; do
  wait_url "${URL[$t]}" "x-backend: a" 5 || die "$t does not answer from backend A at ${URL[$t]}"
done
log "all four targets answer from backend A"

# The memory step's sentinel: 10 services x 10 providers on the two
# backends, probe_interval 5s. It starts now so its first minute overlaps
# the steady runs (its probes add ~20 small requests/s to the backends);
# a background sampler reads its VmRSS/VmHWM at 10, 30 and 60 s.
MEM_PID= MEM_SAMPLER=
if has_step memory; then
  python3 "$HELPER" gen-config "$WORK/sentinel-100.toml" $PORT_A $PORT_B --services 10 --providers 10
  log "memory: sentinel with 10 services × 10 providers, probe_interval 5s"
  start_sentinel "$WORK/sentinel-100.toml" $PORT_MEM "$WORK/sentinel-data-mem" "$OUT/sentinel-mem.log"
  MEM_PID=$SENT_PID
  python3 "$HELPER" sample-mem "$MEM_PID" 10,30,60 >"$OUT/mem-samples.jsonl" &
  MEM_SAMPLER=$!
  PIDS+=("$MEM_SAMPLER")
  wait_url "${URL[sentinel-100]}" "" 10 || die "the 100-provider sentinel does not proxy svc00"
fi
mem_samples() { # wait (bounded by the sampler's own 60 s) and record the samples
  [[ -n $MEM_SAMPLER ]] || return 0
  wait "$MEM_SAMPLER" || log "the memory sampler failed"
  MEM_SAMPLER=
  local line
  while read -r line; do
    [[ -n $line ]] || continue
    emit memory "10 services × 10 providers" "$line"
  done <"$OUT/mem-samples.jsonl"
}

run_hey() { # out-file seconds rate url [extra args]: fixed rate with workers of 100 req/s each
  local out=$1 secs=$2 rate=$3 url=$4 c q
  shift 4
  c=$(((rate + 99) / 100))
  q=$((rate / c))
  timeout $((secs + 30)) hey -z "${secs}s" -c "$c" -q "$q" -t "${HEY_TIMEOUT:-10}" "$@" "$url" >"$out" 2>&1 || true
}

# ------------------------------------------------------------------ steady

if has_step steady; then
  for rate in 1000 5000; do
    for t in direct sentinel haproxy nginx; do
      f=$OUT/steady-$rate-$t.txt
      wait_idle "steady $rate → $t"
      run_hey "$f.warm" 2 "$rate" "${URL[$t]}"
      log "steady $rate req/s → $t (10 s)"
      tp=$(target_pid "$t")
      m0=$(cpu_mark) c0=$(tree_ticks "$tp")
      run_hey "$f" 10 "$rate" "${URL[$t]}"
      c1=$(tree_ticks "$tp") m1=$(cpu_mark)
      parsed=$(python3 "$HELPER" hey "$f")
      n=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["requests"])' "$parsed")
      emit steady "$t" "{\"rate\":$rate}" "$parsed" "$(other_cpu_json "$m0" "$m1")" "$(cpu_per_req_json "$c0" "$c1" "$n")"
    done
  done
fi

# ------------------------------------------------------------------ max

run_wrk() { # out-file seconds url [extra args]
  local out=$1 secs=$2 url=$3
  shift 3
  timeout $((secs + 30)) wrk -t1 -c32 -d"${secs}s" --latency "$@" "$url" >"$out" 2>&1 || true
}

measure_max() { # target url round
  local t=$1 u=$2 round=$3 f=$OUT/max-$1-$3.txt tp m0 m1 c0 c1 parsed n
  f=${f// /-}
  wait_idle "max → $t"
  run_wrk /dev/null 2 "$u" # warm-up
  log "max throughput → $t, round $round (wrk -t1 -c32 -d10s)"
  tp=$(target_pid "$t")
  m0=$(cpu_mark) c0=$(tree_ticks "$tp")
  run_wrk "$f" 10 "$u"
  c1=$(tree_ticks "$tp") m1=$(cpu_mark)
  parsed=$(python3 "$HELPER" wrk "$f")
  n=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["requests"] or 0)' "$parsed")
  emit max "$t" "{\"round\":$round}" "$parsed" "$(other_cpu_json "$m0" "$m1")" "$(cpu_per_req_json "$c0" "$c1" "$n")"
}

mem_samples # the 100-provider sentinel's first minute, before it is loaded

if has_step max; then
  # Rounds in alternating orders, so a slow minute on a noisy host does
  # not land on one target only; the summary takes each target's best.
  targets=(direct sentinel)
  [[ -n $MEM_PID ]] && targets+=(sentinel-100)
  targets+=(haproxy nginx)
  for ((round = 1; round <= MAX_ROUNDS; round++)); do
    order=("${targets[@]}")
    if ((round % 2 == 0)); then
      order=()
      for ((i = ${#targets[@]} - 1; i >= 0; i--)); do order+=("${targets[i]}"); done
    fi
    for t in "${order[@]}"; do measure_max "$t" "${URL[$t]}" "$round"; done
  done
fi

loaded=$(for s in steady max; do if has_step $s; then printf '%s ' $s; fi; done)
loaded=${loaded% }
if [[ -n $loaded ]]; then loaded="after the ${loaded// / and } runs"; else loaded="idle (no load steps)"; fi
if kill -0 "$MAIN_SENT_PID" 2>/dev/null; then
  mem_row "1 service × 2 providers" "$loaded" "$MAIN_SENT_PID"
fi
if [[ -n $MEM_PID ]]; then
  has_step max && mem_row "10 services × 10 providers" "after the max runs" "$MEM_PID"
  stop_pid "$MEM_PID"
  MEM_PID=
fi

# ------------------------------------------------------------------ failover

# One failover run: a fresh start of the proxy's view of A, 20 s of load,
# kill -9 of backend A at t = 5 s. For the sentinel, a fresh sentinel
# (fresh store, A active) and a poll of its route every 100 ms.
failover_run() { # load(hey|wrk) target [fault: kill (kill -9) | stop (SIGSTOP: a hung backend)]
  local load=$1 t=$2 fault=${3:-kill} f poll_pid= load_pid kill_ms extra='{}' master workers
  f=$OUT/failover-$1-$2.txt
  [[ $fault == kill ]] || f=$OUT/stall-$1-$2.txt
  ensure_backend_a
  if [[ $t == sentinel* ]]; then
    stop_pid "$MAIN_SENT_PID"
    rm -rf "$WORK/sentinel-data-failover"
    local args=()
    [[ $t == sentinel-hedge ]] && args=(--hedge)
    start_sentinel "$WORK/sentinel.toml" $PORT_SENT "$WORK/sentinel-data-failover" "$OUT/$t-$fault-$load.log" "${args[@]}"
    MAIN_SENT_PID=$SENT_PID
  fi
  # nginx remembers a failed A for fail_timeout (10 s) and HAProxy needs
  # 2 good checks: wait until the proxy routes to A again.
  wait_url "${URL[$t]}" "x-backend: a" 20 || die "$t is not routing to backend A before the failover run"
  wait_idle "failover ($load) → $t"
  log "failover → $t: 20 s of $load, $fault of backend A at t=5 s"
  if [[ $load == hey ]]; then
    run_hey "$f" 20 1000 "${URL[$t]}" &
  else
    run_wrk "$f" 20 "${URL[$t]}" --timeout 2s &
  fi
  load_pid=$!
  PIDS+=("$load_pid")
  sleep 4.5
  if [[ $t == sentinel* ]]; then
    python3 "$HELPER" poll-route "http://127.0.0.1:$PORT_SENT/v1/services/bench/route" b \
      "$OUT/$fault-$load-$t-route.jsonl" --interval 0.1 --timeout 30 &
    poll_pid=$!
    PIDS+=("$poll_pid")
  fi
  sleep 0.5
  kill_ms=$(date +%s%3N)
  if [[ $fault == kill ]]; then
    kill9_backend a
    log "killed backend A"
  else
    master=${BACKEND_PID[a]}
    workers=$(pgrep -P "$master" | tr '\n' ' ' || true)
    # shellcheck disable=SC2086
    kill -STOP "$master" $workers
    log "stopped backend A (SIGSTOP: connections are accepted by the kernel, never answered)"
  fi
  wait "$load_pid" || true
  if [[ -n $poll_pid ]]; then
    wait "$poll_pid" || log "the sentinel did not name B within 30 s of the kill"
    extra=$(python3 "$HELPER" switch-time "$OUT/$fault-$load-$t-route.jsonl" "$kill_ms")
    log "sentinel route after the kill: $extra"
  fi
  [[ $fault == kill ]] || kill9_backend a # SIGKILL ends a stopped process too
  emit failover "$t" "{\"load\":\"$load\",\"fault\":\"$fault\"}" "$(python3 "$HELPER" "$load" "$f")" "$extra"
}

if has_step failover; then
  for load in hey wrk; do
    for t in haproxy nginx sentinel; do
      failover_run "$load" "$t"
    done
  done
  ensure_backend_a
fi

# Optional (not in the default steps): A hangs instead of dying. Slower
# and harsher; every proxy's timeouts decide the outcome.
if has_step stall; then
  for t in haproxy nginx sentinel sentinel-hedge; do
    HEY_TIMEOUT=15 failover_run hey "$t" stop
  done
  ensure_backend_a
fi

# ------------------------------------------------------------------ realistic

# Backends like real providers instead of a loopback nginx (bench/helper.py
# realistic-backend): every answer after 20-50 ms, 1 % of them a 500 and
# 0.2 % stalled for 1 s. Each proxy keeps the failover settings of the
# other steps; the sentinel its defaults (hedging on, adaptive timeouts).
# hey -o csv lists every request's latency, so p99.9 and p99.99 (where
# the stalls and the errors show) are exact.
if has_step realistic; then
  rd=$WORK/realistic
  mkdir -p "$rd/nginx/tmp" "$rd/haproxy"
  for p in $PORT_RA $PORT_RB $PORT_RSENT $((PORT_RSENT + 1)) $((PORT_RSENT + 2)); do
    port_free "$p" || die "port $p is in use (realistic step)"
  done
  python3 "$HELPER" realistic-backend $PORT_RA a 1 >"$rd/backend-a.log" 2>&1 &
  RA_PID=$!
  PIDS+=($!)
  python3 "$HELPER" realistic-backend $PORT_RB b 2 >"$rd/backend-b.log" 2>&1 &
  RB_PID=$!
  PIDS+=($!)
  wait_url "http://127.0.0.1:$PORT_RA/health" "" 10 || die "realistic backend A did not start"
  wait_url "http://127.0.0.1:$PORT_RB/health" "" 10 || die "realistic backend B did not start"
  render "$BENCH/conf/sentinel.toml.in" "$rd/sentinel.toml" PORT_A=$PORT_RA PORT_B=$PORT_RB
  start_sentinel "$rd/sentinel.toml" $PORT_RSENT "$rd/sentinel-data" "$OUT/realistic-sentinel.log"
  RSENT_PID=$SENT_PID
  render "$BENCH/conf/haproxy.cfg.in" "$rd/haproxy/haproxy.cfg" DIR="$rd/haproxy" PORT=$((PORT_RSENT + 1)) \
    PORT_A=$PORT_RA PORT_B=$PORT_RB
  haproxy -db -f "$rd/haproxy/haproxy.cfg" >"$rd/haproxy/haproxy.log" 2>&1 &
  RHAP_PID=$!
  PIDS+=($!)
  render "$BENCH/conf/nginx-proxy.conf.in" "$rd/nginx/nginx.conf" DIR="$rd/nginx" PORT=$((PORT_RSENT + 2)) \
    PORT_A=$PORT_RA PORT_B=$PORT_RB WORKERS=auto
  nginx -p "$rd/nginx/" -e "$rd/nginx/error.log" -c "$rd/nginx/nginx.conf" >"$rd/nginx/stdout.log" 2>&1 &
  RNGX_PID=$!
  PIDS+=($!)
  declare -A RURL=(
    [direct]="http://127.0.0.1:$PORT_RA/v1/price"
    [sentinel]="http://127.0.0.1:$PORT_RSENT/proxy/bench/v1/price"
    [haproxy]="http://127.0.0.1:$((PORT_RSENT + 1))/v1/price"
    [nginx]="http://127.0.0.1:$((PORT_RSENT + 2))/v1/price"
  )
  declare -A RPID=([direct]=$RA_PID [sentinel]=$RSENT_PID [haproxy]=$RHAP_PID [nginx]=$RNGX_PID)
  for t in sentinel haproxy nginx; do
    wait_url "${RURL[$t]}" "x-backend: a" 20 || die "$t does not answer from realistic backend A"
  done
  # The sentinel learns the backends' latency from its probes (hedging
  # and timeouts adapt to it): give it a few probes.
  sleep 5
  secs=${BENCH_REAL_SECS:-30}
  order=(direct sentinel haproxy nginx)
  for round in $(seq "${BENCH_REAL_ROUNDS:-2}"); do
    for t in "${order[@]}"; do
      f=$OUT/realistic-$t-$round.txt
      wait_idle "realistic → $t"
      log "realistic backends → $t, round $round (hey -z ${secs}s -c 20)"
      m0=$(cpu_mark) c0=$(tree_ticks "${RPID[$t]}")
      timeout $((secs + 30)) hey -z "${secs}s" -c 20 -t 10 -o csv "${RURL[$t]}" >"$f" 2>&1 || true
      c1=$(tree_ticks "${RPID[$t]}") m1=$(cpu_mark)
      parsed=$(python3 "$HELPER" hey-csv "$f")
      n=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["requests"] or 1)' "$parsed")
      emit realistic "$t" "{\"round\":$round,\"secs\":$secs}" "$parsed" \
        "$(other_cpu_json "$m0" "$m1")" "$(cpu_per_req_json "$c0" "$c1" "$n")"
    done
    # Alternate the order between rounds.
    order=("${order[3]}" "${order[2]}" "${order[1]}" "${order[0]}")
  done
  for p in $RNGX_PID $RHAP_PID $RSENT_PID $RA_PID $RB_PID; do stop_pid "$p"; done
fi

# ------------------------------------------------------------------ conns

# 10,000 client connections held open (one request each, then idle), and
# the throughput of 32 busy connections meanwhile. Both proxies get the
# limits this needs: the sentinel SENTINEL_MAX_CONNECTIONS and
# _MAX_CLIENT_CONNECTIONS (every connection comes from 127.0.0.1) and a
# 60 s keep-alive wait like nginx's keepalive_timeout; nginx 16,384
# worker_connections.
if has_step conns; then
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  (($(ulimit -n) >= ${BENCH_CONNS:-10000} + 2000)) ||
    die "the open-file limit ($(ulimit -n)) is too low for ${BENCH_CONNS:-10000} connections through a proxy"
  cdir=$WORK/conns
  mkdir -p "$cdir/nginx/tmp"
  nconns=${BENCH_CONNS:-10000}
  PORT_CSENT=$((PORT_RSENT + 3)) PORT_CNGX=$((PORT_RSENT + 4))
  SENTINEL_MAX_CONNECTIONS=$((nconns * 2)) SENTINEL_MAX_CLIENT_CONNECTIONS=$((nconns * 2)) \
    SENTINEL_HEADER_TIMEOUT_MS=60000 SENTINEL_IDLE_TIMEOUT_MS=60000 \
    start_sentinel "$WORK/sentinel.toml" $PORT_CSENT "$cdir/sentinel-data" "$OUT/conns-sentinel.log"
  CSENT_PID=$SENT_PID
  render "$BENCH/conf/nginx-proxy.conf.in" "$cdir/nginx/nginx.conf" DIR="$cdir/nginx" PORT=$PORT_CNGX \
    PORT_A=$PORT_A PORT_B=$PORT_B WORKERS=auto
  sed -i -e 's/worker_connections 4096;/worker_connections 16384;/' \
    -e 's/^worker_processes \(.*\);/worker_processes \1;\nworker_rlimit_nofile 20000;/' "$cdir/nginx/nginx.conf"
  nginx -p "$cdir/nginx/" -e "$cdir/nginx/error.log" -c "$cdir/nginx/nginx.conf" >"$cdir/nginx/stdout.log" 2>&1 &
  CNGX_PID=$!
  PIDS+=($!)
  declare -A CURL_=(
    [sentinel]="http://127.0.0.1:$PORT_CSENT/proxy/bench/v1/price"
    [nginx]="http://127.0.0.1:$PORT_CNGX/v1/price"
  )
  declare -A CPATH=([sentinel]=/proxy/bench/v1/price [nginx]=/v1/price)
  declare -A CPORT=([sentinel]=$PORT_CSENT [nginx]=$PORT_CNGX)
  declare -A CPID=([sentinel]=$CSENT_PID [nginx]=$CNGX_PID)
  for t in sentinel nginx; do
    wait_url "${CURL_[$t]}" "x-backend: a" 20 || die "$t (conns step) does not answer from backend A"
    run_wrk "$cdir/warm-$t.txt" 2 "${CURL_[$t]}"
  done
  for t in sentinel nginx; do
    wait_idle "conns → $t"
    rss0=$(python3 "$HELPER" tree-rss "${CPID[$t]}")
    ready=$cdir/ready-$t
    rm -f "$ready"
    log "conns → $t: opening $nconns connections"
    python3 "$HELPER" hold-conns 127.0.0.1 "${CPORT[$t]}" "${CPATH[$t]}" "$nconns" 30 "$ready" \
      >"$cdir/hold-$t.json" 2>"$cdir/hold-$t.err" &
    hold_pid=$!
    PIDS+=($!)
    for _ in $(seq 600); do [[ -f $ready ]] && break; sleep 0.1; done
    [[ -f $ready ]] || log "conns → $t: the connections were not all open after 60 s"
    sleep 1
    rss1=$(python3 "$HELPER" tree-rss "${CPID[$t]}")
    f=$OUT/conns-$t.txt
    tp=${CPID[$t]}
    c0=$(tree_ticks "$tp")
    run_wrk "$f" 10 "${CURL_[$t]}"
    c1=$(tree_ticks "$tp")
    rss2=$(python3 "$HELPER" tree-rss "${CPID[$t]}")
    wait "$hold_pid" || true
    parsed=$(python3 "$HELPER" wrk "$f")
    n=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["requests"] or 1)' "$parsed")
    emit conns "$t" "$(python3 -c 'import json,sys; a,b,c,h=(json.loads(x) for x in sys.argv[1:5]); print(json.dumps({"rss0_kb":a["rss_kb"],"rss_held_kb":b["rss_kb"],"rss_busy_kb":c["rss_kb"],"held":h}))' \
      "$rss0" "$rss1" "$rss2" "$(cat "$ready" 2>/dev/null || echo '{}')")" "$parsed" "$(cpu_per_req_json "$c0" "$c1" "$n")"
  done
  stop_pid "$CNGX_PID"
  stop_pid "$CSENT_PID"
fi

# ------------------------------------------------------------------ memory

for f in "$OUT"/*sentinel*.log; do
  [[ -f $f ]] || continue
  n=$(grep -c " ERROR \|rejected" "$f" || true)
  if ((n > 0)); then
    emit note - '{}' "{\"text\":\"$(basename "$f"): $n ERROR or 'rejected' lines; see the log\"}"
  fi
done

# ------------------------------------------------------------------ summary

python3 "$HELPER" summary "$RESULTS" >"$OUT/summary.md"
cat "$OUT/summary.md"
log "raw outputs and summary.md in $OUT"
