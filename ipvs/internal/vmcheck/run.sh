#!/bin/sh
# Runs inside the lab VM: sh /work/shared/lab/vm/run.sh /work/main/ipvs/internal/vmcheck/run.sh 1024 2
# Build first, on the host: go build -o /work/main/build/vmcheck ./ipvs/internal/vmcheck
# The check runs in its own network namespace (IPVS tables are per netns).
BIN=${VMCHECK_BIN:-/work/main/build/vmcheck}
NS=vmcheck$$
uname -r
ip netns add $NS || exit 1
ip netns exec $NS ip link set lo up
ip netns exec $NS "$BIN" "$@"
rc=$?
ip netns del $NS
exit $rc
