#!/usr/bin/env bash
# Health checking at scale on the plain machine (make bench-checks): nginx
# serves N real servers on loopback addresses 127.1.x.y:80, our director
# (in-memory table) checks them all every second with http negotiate.
# Prints figures for each N; asserts nothing about speed.
#   test/bench/checkload.sh [N ...]     (default: 2000 10000)
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH=/usr/local/go/bin:$PATH
W=/var/tmp/checkload
mkdir -p build
go build -o build/checkload ./test/bench/checkload
go build -o build/checkfloor ./test/bench/checkfloor
ns=("$@")
[ ${#ns[@]} -gt 0 ] || ns=(2000 10000)
max=0
for n in "${ns[@]}"; do [ "$n" -gt "$max" ] && max=$n; done

rm -rf "$W" && mkdir -p "$W/www" "$W/tmp"
for ((i = 1; i <= max; i++)); do
	d="$W/www/127.$((1 + (i >> 16))).$(((i >> 8) & 255)).$((i & 255))"
	mkdir -p "$d" && echo ok > "$d/test.html"
done
cat > "$W/nginx.conf" <<EOF
worker_processes 1;
pid $W/nginx.pid;
error_log $W/error.log;

events { worker_connections 16384; }
http {
	access_log off;
	client_body_temp_path $W/tmp;
	keepalive_timeout 0;
	server { listen 127.0.0.1:18080; return 200; }
	server { listen 80 reuseport backlog=8192; root $W/www/\$server_addr; }
}
EOF
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
nginx -c "$W/nginx.conf"
trap 'kill $(cat $W/nginx.pid) 2>/dev/null || true' EXIT
sleep 0.5
echo "machine: $(nproc) cores; nginx: 1 worker on loopback"
for n in "${ns[@]}"; do
	echo "== $n reals"
	ours=$(build/checkload -n "$n" -docroot "$W/www" ${CHECKLOAD_ARGS:-})
	echo "$ours"
	# The floor on the same reals at the same rate, in the same run.
	floor=$(build/checkfloor -n "$n")
	echo "$floor"
	a=$(sed -nE 's/^per 1000 checks: CPU ([0-9.]+) ms.*/\1/p' <<< "$ours")
	b=$(sed -nE 's/^floor per 1000 checks: CPU ([0-9.]+) ms.*/\1/p' <<< "$floor")
	[ -n "$a" ] && [ -n "$b" ] && awk -v a="$a" -v b="$b" -v n="$n" 'BEGIN { printf "== %d reals: CPU per check, ours / floor = %.2f (%s ms / %s ms per 1000)\n", n, a / b, a, b }'
	echo "   nginx CPU so far: $(ps -o cputime= -C nginx | tr '\n' ' ')"
done
