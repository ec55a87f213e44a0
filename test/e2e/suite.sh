#!/usr/bin/env bash
# The e2e entry point, run inside the test VM (test/vm/run.sh test/e2e/suite.sh).
#
# Runs every test/e2e/t_*.sh (E2E_GLOB to pick other files, e.g. 'bench_*.sh')
# whose name (without .sh) matches the bash regex E2E_FILTER, one after the
# other, each in its own bash process with lib.sh loaded and a time limit
# (E2E_TEST_TIMEOUT seconds, default 300, or a "# e2e-timeout: N" line in the
# file). The farm is torn down after every test. A test fails when an
# assertion fails, when it exits non-zero or times out, and when it made no
# assertion at all (unless E2E_REQUIRE_ASSERT=0, as for benchmarks).
#
# Output:
#   === RUN t_00_smoke
#   ...the test's own output...
#   --- PASS t_00_smoke (12.3s)        (or --- FAIL / --- SKIP; a FAIL is
#                                       preceded by "    [reason]")
#   ...
#   N passed, N failed                 (last line, alone)
# Exit status: 0 only if at least one test ran and none failed.
set -uo pipefail

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$E2E_DIR/../.." && pwd)
BUILD=$REPO/build
LIB=$E2E_DIR/lib.sh
export E2E_DIR REPO BUILD

GLOB=${E2E_GLOB:-t_*.sh}
FILTER=${E2E_FILTER:-}
DEFAULT_TIMEOUT=${E2E_TEST_TIMEOUT:-300}

umask 022
ulimit -n 65536 2>/dev/null || true

# shellcheck source=lib.sh
source "$LIB"

if [ ! -e /proc/net/ip_vs ]; then
	echo "e2e: /proc/net/ip_vs missing: not running in the IPVS VM (use test/vm/run.sh)"
fi
bins=$(find "$BUILD" -maxdepth 1 -type f -perm -u+x -printf '%f ' 2>/dev/null)
echo "e2e: kernel $(uname -r), repo $REPO, build/: ${bins:-(empty)}"
[ -z "$FILTER" ] || echo "e2e: E2E_FILTER=$FILTER"

tests=()
# E2E_TESTS_DIR: run test files from elsewhere (harness self-tests).
for f in "${E2E_TESTS_DIR:-$E2E_DIR}"/$GLOB; do
	[ -f "$f" ] || continue
	name=$(basename "$f" .sh)
	if [ -n "$FILTER" ] && ! [[ $name =~ $FILTER ]]; then
		continue
	fi
	tests+=("$f")
done

# fmt_secs MS -> "12.3"
fmt_secs() { printf '%d.%d' $(($1 / 1000)) $(($1 % 1000 / 100)); }

npass=0
nfail=0
nskip=0
suite_t0=$(now_ms)
farm_down >/dev/null 2>&1

for f in "${tests[@]}"; do
	name=$(basename "$f" .sh)
	limit=$(sed -nE 's/^#[[:space:]]*e2e-timeout:[[:space:]]*([0-9]+).*/\1/p' "$f" | head -n1)
	limit=${limit:-$DEFAULT_TIMEOUT}
	E2E_TMP=/tmp/e2e/$name
	E2E_RESULTS=$E2E_TMP/.results
	rm -rf "$E2E_TMP"
	mkdir -p "$E2E_TMP"
	: > "$E2E_RESULTS"
	export E2E_TMP E2E_RESULTS
	export E2E_NAME=$name

	echo "=== RUN $name"
	t0=$(now_ms)
	# timeout makes its own process group: everything the test leaves behind
	# in it is killed afterwards.
	# $0 is the test file, so "$(dirname "$0")" works in it.
	(cd "$E2E_TMP" && exec timeout -k 5 "$limit" bash -c 'source "$1" && e2e_run_file "$0"' "$f" "$LIB") &
	tpid=$!
	wait "$tpid"
	rc=$?
	kill -TERM -- "-$tpid" 2>/dev/null
	ms=$(($(now_ms) - t0))

	nf=$(grep -c '^FAIL ' "$E2E_RESULTS")
	np=$(grep -c '^PASS ' "$E2E_RESULTS")
	why=
	if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
		why="timed out after ${limit}s"
	elif [ $rc -ne 0 ]; then
		why="exit status $rc"
	elif [ "$nf" -gt 0 ]; then
		why="$nf failed assertion(s)"
	elif grep -q '^SKIP ' "$E2E_RESULTS"; then
		why=skip
	elif [ "$np" -eq 0 ] && [ "${E2E_REQUIRE_ASSERT:-1}" = 1 ]; then
		why="no assertions were made"
	fi

	if [ "$why" = skip ]; then
		nskip=$((nskip + 1))
		echo "--- SKIP $name ($(fmt_secs $ms)s)"
	elif [ -n "$why" ]; then
		nfail=$((nfail + 1))
		echo "    [$why]"
		# Leave some evidence before tearing down.
		if ip netns list 2>/dev/null | grep -qw "$IPVS_NS"; then
			echo "    table at failure:"
			ipvs_dump 2>&1 | sed 's/^/    | /'
		fi
		for lf in "$E2E_TMP"/*.log; do
			[ -f "$lf" ] || continue
			echo "    last lines of $(basename "$lf"):"
			tail -n 15 "$lf" | sed 's/^/    | /'
		done
		echo "--- FAIL $name ($(fmt_secs $ms)s)"
	else
		npass=$((npass + 1))
		echo "--- PASS $name ($(fmt_secs $ms)s)"
	fi
	farm_down >/dev/null 2>&1
done

total=$(($(now_ms) - suite_t0))
ran=$((npass + nfail))
[ "$nskip" -eq 0 ] || echo "e2e: $nskip skipped"
[ "$ran" -gt 0 ] || echo "e2e: no test ran (glob $GLOB, filter '${FILTER}')"
echo "e2e: suite took $(fmt_secs $total)s"
echo "$npass passed, $nfail failed"
[ "$nfail" -eq 0 ] && [ "$ran" -gt 0 ]
