# bench/lib/common.sh — sourced by every bench script. Certificates, content, the peers' configs,
# servers on ephemeral loopback ports, server CPU time from /proc, and the figure lines.
#
# Environment:
#   BUILD_DIR      where dataplane_harness and siteplane are built (default: <repo>/build)
#   WORKERS        workers for siteplane and nginx, threads for HAProxy (default: nproc)
#   DURATION       seconds per wrk run (default: 10)
#   BENCH_CACHE    cache for the 1,000/10,000 certificate sets (default: /tmp/siteplane-bench-cache)
#   BENCH_KEEP=1   keep the run's temporary directory (configs, server logs) for inspection

set -euo pipefail

BENCH_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_LIB/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$REPO_ROOT/build}
WORKERS=${WORKERS:-$(nproc)}
DURATION=${DURATION:-10}
BENCH_CACHE=${BENCH_CACHE:-/tmp/siteplane-bench-cache}
HARNESS=$BUILD_DIR/dataplane_harness
SITEPLANE=$BUILD_DIR/siteplane

# Same TLS preference on every server (siteplane's, from dataplane/tls/server_context.cc): server
# order, AES-128-GCM first, X25519 first.
TLS12_CIPHERS="ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"
TLS13_SUITES="TLS_AES_128_GCM_SHA256:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_256_GCM_SHA384"
TINY_BODY="siteplane bench"  # 15 bytes + newline, the same on every server

die() {
  echo "bench: $*" >&2
  exit 1
}

need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed (make bench installs it)"
  done
}

need_harness() {
  [[ -x $HARNESS ]] || die "$HARNESS is missing: build it first (cmake --build build --target dataplane_harness)"
}

# One temporary directory per run, removed on exit with every server still running.
BENCH_PIDS=()
bench_setup() {
  RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/siteplane-bench.XXXXXX")
  trap bench_cleanup EXIT
  trap 'exit 130' INT TERM
}

bench_cleanup() {
  local pid
  for pid in "${BENCH_PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${BENCH_PIDS[@]}"; do
    timeout 10 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  done
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then
    echo "bench: kept $RUN_DIR" >&2
  else
    rm -rf "$RUN_DIR"
  fi
}

load_note() {
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (2 cores shared with the load generator)"
}

# free_port: an ephemeral port nobody listens on right now (the kernel picks it).
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# make_cert DIR NAME ALG HOST — DIR/NAME.crt, DIR/NAME.key and DIR/NAME.pem (both, for HAProxy).
# ALG: ecdsa (P-256) or rsa (2048 bits). Self-signed: the load generators do not verify.
make_cert() {
  local dir=$1 name=$2 alg=$3 host=$4 key
  case $alg in
    ecdsa) key=(-newkey ec -pkeyopt ec_paramgen_curve:P-256) ;;
    rsa) key=(-newkey rsa:2048) ;;
    *) die "make_cert: unknown algorithm $alg" ;;
  esac
  openssl req -x509 "${key[@]}" -nodes -keyout "$dir/$name.key" -out "$dir/$name.crt" \
    -subj "/CN=$host" -addext "subjectAltName=DNS:$host" -days 30 2>/dev/null ||
    die "openssl could not create the $alg certificate $name"
  cat "$dir/$name.crt" "$dir/$name.key" >"$dir/$name.pem"
}

# make_content DIR — DIR/www/index.html (the tiny body) and DIR/www/1m.bin (1 MiB).
make_content() {
  mkdir -p "$1/www"
  printf '%s\n' "$TINY_BODY" >"$1/www/index.html"
  head -c 1048576 /dev/urandom >"$1/www/1m.bin"
}

# harness_config FILE PORT CERTNAME [EXTRA_HOST] — one https binding on 127.0.0.1:PORT that takes
# any host name with certificate CERTNAME (files next to FILE), plus, with EXTRA_HOST, a second
# binding for that name (what the swap benchmark changes on every publish).
harness_config() {
  local file=$1 port=$2 cert=$3 extra=${4:-}
  {
    printf '{"sites": {"main": {"root": "www"}},\n'
    printf ' "certificates": {"c": {"certificateFile": "%s.crt", "privateKeyFile": "%s.key"}},\n' "$cert" "$cert"
    printf ' "bindings": [{"name": "any", "site": "main", "protocol": "https", "address": "127.0.0.1", "port": %s, "hostName": "", "certificate": "c"}' "$port"
    [[ -n $extra ]] &&
      printf ',\n  {"name": "extra", "site": "main", "protocol": "https", "address": "127.0.0.1", "port": %s, "hostName": "%s", "certificate": "c"}' "$port" "$extra"
    printf ']}\n'
  } >"$file.tmp"
  mv "$file.tmp" "$file"
}

# nginx_config FILE PORT CERTNAME [EXTRA_HOST] — the fair nginx twin of harness_config: same
# workers, TLS 1.2 + 1.3, same cipher and group preference, no access log, keep-alive unbounded.
nginx_config() {
  local file=$1 port=$2 cert=$3 extra=${4:-} dir
  dir=$(dirname "$file")
  mkdir -p "$dir/nginx-tmp"
  {
    cat <<EOF
worker_processes $WORKERS;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
$( ((EUID == 0)) && echo "user root;")
events { worker_connections 8192; multi_accept on; }
http {
  access_log off;
  client_body_temp_path $dir/nginx-tmp/body;
  proxy_temp_path $dir/nginx-tmp/proxy;
  fastcgi_temp_path $dir/nginx-tmp/fastcgi;
  uwsgi_temp_path $dir/nginx-tmp/uwsgi;
  scgi_temp_path $dir/nginx-tmp/scgi;
  types { text/html html; application/octet-stream bin; }
  default_type application/octet-stream;
  keepalive_requests 100000000;
  keepalive_timeout 60s;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_ciphers $TLS12_CIPHERS;
  ssl_prefer_server_ciphers on;
  ssl_conf_command Ciphersuites $TLS13_SUITES;
  ssl_conf_command Options PrioritizeChaCha;
  ssl_ecdh_curve X25519:prime256v1:secp384r1;
  server {
    listen 127.0.0.1:$port ssl reuseport;
    ssl_certificate $dir/$cert.crt;
    ssl_certificate_key $dir/$cert.key;
    root $dir/www;
  }
EOF
    [[ -n $extra ]] && cat <<EOF
  server {
    listen 127.0.0.1:$port ssl;
    server_name $extra;
    ssl_certificate $dir/$cert.crt;
    ssl_certificate_key $dir/$cert.key;
    root $dir/www;
  }
EOF
    echo "}"
  } >"$file.tmp"
  mv "$file.tmp" "$file"
}

# haproxy_config FILE PORT CERTNAME — HAProxy answering the tiny body itself (it serves no files),
# master-worker so that SIGUSR2 reloads. idle-close-on-response is off: that is its default.
haproxy_config() {
  local file=$1 port=$2 cert=$3 dir
  dir=$(dirname "$file")
  cat >"$file" <<EOF
global
  nbthread $WORKERS
  maxconn 9000
  ssl-default-bind-ciphers $TLS12_CIPHERS
  ssl-default-bind-ciphersuites $TLS13_SUITES
  ssl-default-bind-options ssl-min-ver TLSv1.2
  ssl-default-bind-curves X25519:P-256:P-384
  pidfile $dir/haproxy.pid
defaults
  mode http
  timeout client 60s
  timeout connect 5s
  timeout server 60s
  timeout http-keep-alive 60s
frontend bench
  bind 127.0.0.1:$port ssl crt $dir/$cert.pem alpn http/1.1
  http-request return status 200 content-type text/html lf-string "$TINY_BODY\n"
EOF
}

# wait_serving PORT [HOST] [SECONDS] — until an HTTPS request to HOST answers 200.
wait_serving() {
  local port=$1 host=${2:-bench.test} limit=${3:-30} deadline
  deadline=$((SECONDS + limit))
  while ((SECONDS < deadline)); do
    [[ $(curl -sk -o /dev/null -w '%{http_code}' --max-time 2 \
      --resolve "$host:$port:127.0.0.1" "https://$host:$port/") == 200 ]] && return 0
    sleep 0.05
  done
  return 1
}

# start_siteplane CONFIG PORT — the data plane (harness) on CONFIG; sets SERVER_PID.
start_siteplane() {
  local config=$1 port=$2
  "$HARNESS" --config "$config" --workers "$WORKERS" --access-log off --log-level warn \
    >"$RUN_DIR/siteplane.out" 2>&1 &
  SERVER_PID=$!
  BENCH_PIDS+=("$SERVER_PID")
  wait_serving "$port" || die "siteplane did not serve on port $port: $(tail -5 "$RUN_DIR/siteplane.out")"
}

# start_nginx CONFIG PORT — nginx in the foreground (master + workers); sets SERVER_PID.
start_nginx() {
  local config=$1 port=$2
  nginx -p "$(dirname "$config")" -c "$config" -g 'daemon off;' >"$RUN_DIR/nginx.out" 2>&1 &
  SERVER_PID=$!
  BENCH_PIDS+=("$SERVER_PID")
  wait_serving "$port" || die "nginx did not serve on port $port: $(tail -5 "$RUN_DIR/nginx.out")"
}

# start_haproxy CONFIG PORT — HAProxy in master-worker mode; sets SERVER_PID (the master).
start_haproxy() {
  local config=$1 port=$2
  haproxy -W -db -f "$config" >"$RUN_DIR/haproxy.out" 2>&1 &
  SERVER_PID=$!
  BENCH_PIDS+=("$SERVER_PID")
  wait_serving "$port" || die "haproxy did not serve on port $port: $(tail -5 "$RUN_DIR/haproxy.out")"
}

# stop_server PID — SIGTERM, then wait (bounded) for it and its children to go.
stop_server() {
  local pid=$1 p rest=()
  kill -TERM "$pid" 2>/dev/null || true
  timeout 15 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${BENCH_PIDS[@]}"; do [[ $p == "$pid" ]] || rest+=("$p"); done
  BENCH_PIDS=("${rest[@]}")
}

cpu_seconds() { python3 "$BENCH_LIB/proc.py" cpu "$1"; }
memory_of() { python3 "$BENCH_LIB/proc.py" mem "$1"; }

# calc EXPR — floating-point arithmetic (python3), e.g. calc "12 / 3.5".
calc() { python3 -c "print(round($1, 2))"; }

# ratio A B — A / B, or "n/a" when B is zero or missing.
ratio() {
  python3 -c "import sys; a, b = float('$1' or 0), float('$2' or 0); print(f'{a / b:.2f}' if b else 'n/a')"
}

# wrk_field FILE NAME — one figure from wrk's --latency output:
#   requests (total), rps, p99_ms, non2xx, socket_errors (connect+read+write+timeout).
wrk_field() {
  python3 - "$1" "$2" <<'EOF'
import re, sys
text, name = open(sys.argv[1]).read(), sys.argv[2]
def ms(value, unit):
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]
if name == "requests":
    m = re.search(r"(\d+) requests in", text); print(m.group(1) if m else 0)
elif name == "rps":
    m = re.search(r"Requests/sec:\s+([\d.]+)", text); print(m.group(1) if m else 0)
elif name == "p99_ms":
    m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\b", text, re.M)
    print(f"{ms(*m.groups()):.2f}" if m else "n/a")
elif name == "non2xx":
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text); print(m.group(1) if m else 0)
elif name == "socket_errors":
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    print(sum(map(int, m.groups())) if m else 0)
else:
    sys.exit(f"wrk_field: unknown field {name}")
EOF
}

# h2load_field FILE NAME — succeeded, failed, errored (request counts) or seconds (wall time).
h2load_field() {
  python3 - "$1" "$2" <<'EOF'
import re, sys
text, name = open(sys.argv[1]).read(), sys.argv[2]
m = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored", text)
if name in ("succeeded", "failed", "errored"):
    print(m.group(("succeeded", "failed", "errored").index(name) + 1) if m else 0)
elif name == "seconds":
    t = re.search(r"finished in ([\d.]+)(ms|s),", text)
    print((float(t.group(1)) / (1000 if t.group(2) == "ms" else 1)) if t else 0)
else:
    sys.exit(f"h2load_field: unknown field {name}")
EOF
}

# Figure lines: one per server and a ratio line, all "key=value" so they can be grepped.
row() {
  printf '  %-10s' "$1"
  shift
  printf ' %s' "$@"
  printf '\n'
}

# wrk_measured NAME PID OUT WRK_ARGS... — runs wrk (bounded by timeout) against a running server
# and records the server's CPU seconds over the run; sets CPU (seconds) and WALL (seconds).
wrk_measured() {
  local name=$1 pid=$2 out=$3 before after t0 t1
  shift 3
  before=$(cpu_seconds "$pid")
  t0=$(date +%s.%N)
  timeout $((DURATION + 30)) wrk "$@" >"$out" 2>&1 || die "wrk against $name failed: $(tail -3 "$out")"
  t1=$(date +%s.%N)
  after=$(cpu_seconds "$pid")
  CPU=$(calc "$after - $before")
  WALL=$(calc "$t1 - $t0")
}
