# shellcheck shell=bash
# Resource samples of a daemon in the VM (sourced after lib.sh by the
# fault scripts): resident memory and open descriptors from /proc, the
# goroutine count from the daemon's metrics endpoint (its settings file
# must enable [metrics] on $PS_MADDR in its namespace).
#
#   ps_settings FILE          write a settings file with the endpoint on
#   ps_sample NETNS PID       prints "RSS_KIB GOROUTINES FDS" ("-" for a
#                             value that could not be read)
#   ps_verdict NAME FILE COL MARGIN_PCT MARGIN_ABS
#                             FILE has one sample a line, the value in
#                             column COL; passes unless the mean of the last
#                             third exceeds the first third's mean by more
#                             than MARGIN_PCT % plus MARGIN_ABS; prints
#                             "first=.. last=.. bound=.."

PS_MADDR=127.0.0.1:9773

ps_settings() {
	printf '[metrics]\nlisten = "%s"\npath = "/metrics"\n' "$PS_MADDR" > "$1"
}

ps_sample() {
	local ns=$1 pid=$2 rss fds gor
	rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid/status" 2>/dev/null)
	fds=$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
	[ -d "/proc/$pid/fd" ] || fds=
	gor=$(ip netns exec "$ns" curl -sS --fail --connect-timeout 2 -m 5 "http://$PS_MADDR/metrics" 2>/dev/null |
		awk '$1 == "go_goroutines" { print $2; exit }')
	echo "${rss:--} ${gor:--} ${fds:--}"
}

ps_verdict() {
	local name=$1 file=$2 col=$3 pct=$4 abs=$5 out
	out=$(awk -v c="$col" -v pct="$pct" -v abs="$abs" '
		$c ~ /^[0-9.]+$/ { v[n++] = $c }
		END {
			if (n < 3) { print "samples=" n " too-few"; exit 1 }
			k = int(n / 3)
			for (i = 0; i < k; i++) { f += v[i]; l += v[n - 1 - i] }
			f /= k; l /= k
			bound = f * (1 + pct / 100) + abs
			printf "first=%.0f last=%.0f bound=%.0f samples=%d\n", f, l, bound, n
			exit !(l <= bound)
		}' "$file")
	if [ $? -eq 0 ]; then pass "$name does not grow ($out)"; else fail "$name grows" "$out"; fi
}
