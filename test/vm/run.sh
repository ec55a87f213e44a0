#!/usr/bin/env bash
# Run one script inside a throw-away VM whose kernel has IPVS.
#
#   test/vm/run.sh SCRIPT [MEM_MB] [CPUS]
#
# SCRIPT is an absolute path (or relative to the current directory) on the
# host root filesystem. Inside the VM /tmp and /run are fresh tmpfs, except
# that a script under them has its git work tree bind-mounted read-only at
# the same path; everything else is the host's tree, read-only underneath a
# writable tmpfs overlay (writes vanish at power-off). The script runs as root, in the
# same working directory, with stdin from /dev/null. Its output is streamed
# here as it is printed; run.sh exits with the script's exit code.
#
# Environment:
#   VM_TIMEOUT   wall-clock limit in seconds (default 2700: the whole e2e suite is one boot)
#   VM_CACHE     where the initramfs is built (default /var/tmp/lvsdirector-vm)
#   VM_KERNEL    kernel version to boot (default: newest with /boot/vmlinuz-V and ip_vs)
#   VM_ACCEL     tcg (default: software emulation, what CI has) or kvm
#                (only where nested virtualisation really works; on the dev
#                machines /dev/kvm exists but a KVM guest hangs at boot)
#   VM_PASS_ENV  extra variable names to pass into the VM; every E2E_* variable
#                is passed anyway
#   VM_VERBOSE=1 also show the console output before the script starts
#   VM_OUT       where files the script exports are saved (default
#                $VM_CACHE/out): a script prints "VMFILE-BEGIN NAME", the
#                file in base64, "VMFILE-END" (test/e2e/lib.sh vm_export)
# The full console log of the last run is kept in $VM_CACHE/console.log.
set -euo pipefail

usage() { echo "usage: $0 SCRIPT [MEM_MB] [CPUS]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 3 ] || usage
SCRIPT=$1
MEM=${2:-2048}
CPUS=${3:-2}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${VM_CACHE:-/var/tmp/lvsdirector-vm}
TIMEOUT=${VM_TIMEOUT:-2700}

case $SCRIPT in /*) ;; *) SCRIPT=$PWD/$SCRIPT ;; esac
[ -f "$SCRIPT" ] || { echo "run.sh: no such script: $SCRIPT" >&2; exit 2; }
SCRIPT=$(readlink -f "$SCRIPT")
# /tmp and /run are fresh tmpfs in the VM. A checkout under them (a CI
# clone in a temporary directory) is bind-mounted read-only at the same
# path: the whole git work tree of the script, or its directory.
KEEP=
case $SCRIPT in
/proc/*|/sys/*|/dev/*)
	echo "run.sh: $SCRIPT is not visible in the VM; put it elsewhere" >&2
	exit 2 ;;
/tmp/*|/run/*)
	KEEP=$(git -C "$(dirname "$SCRIPT")" rev-parse --show-toplevel 2>/dev/null || dirname "$SCRIPT")
	case $KEEP in /tmp/?*|/run/?*) ;; *) echo "run.sh: cannot share $SCRIPT with the VM" >&2; exit 2 ;; esac ;;
esac
case $SCRIPT in *[[:space:]]*) echo "run.sh: script path must not contain spaces" >&2; exit 2 ;; esac

for c in qemu-system-x86_64 busybox cpio modprobe gzip flock; do
	command -v "$c" >/dev/null || { echo "run.sh: $c not found; run scripts/deps.sh" >&2; exit 2; }
done

# Kernel: newest installed version that has a vmlinuz and the ip_vs module.
pick_kernel() {
	local k
	for k in $(ls /lib/modules 2>/dev/null | sort -rV); do
		[ -r "/boot/vmlinuz-$k" ] || continue
		ls "/lib/modules/$k/kernel/net/netfilter/ipvs/ip_vs.ko"* >/dev/null 2>&1 || continue
		echo "$k"
		return 0
	done
	return 1
}
K=${VM_KERNEL:-$(pick_kernel || true)}
[ -n "$K" ] && [ -r "/boot/vmlinuz-$K" ] || {
	echo "run.sh: no kernel with IPVS modules found (apt-get install linux-image-amd64)" >&2; exit 2; }
KERNEL=/boot/vmlinuz-$K

# (Re)build the initramfs when the kernel or mkinitrd.sh changed.
mkdir -p "$CACHE"
STAMP="$K $(stat -c '%s %Y' "$KERNEL") $(sha256sum "$HERE/mkinitrd.sh" | cut -c1-16) $(stat -c '%s' "$(command -v busybox)")"
(
	flock 9
	if [ ! -f "$CACHE/initrd.gz" ] || [ "$(cat "$CACHE/stamp" 2>/dev/null)" != "$STAMP" ]; then
		echo "run.sh: building initramfs for $K in $CACHE" >&2
		sh "$HERE/mkinitrd.sh" "$CACHE" "$K"
		echo "$STAMP" > "$CACHE/stamp"
	fi
) 9>"$CACHE/lock"

# Variables for the VM: all E2E_* plus VM_PASS_ENV, as shell assignments,
# base64 on the kernel command line (no spaces, no quoting trouble).
envfile=
for v in $(compgen -e | grep '^E2E_' || true) ${VM_PASS_ENV:-}; do
	[[ $v =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { echo "run.sh: bad variable name $v" >&2; exit 2; }
	[ -n "${!v+x}" ] || continue
	val=${!v}
	envfile+="$v='${val//\'/\'\\\'\'}'"$'\n'
done
ENVB64=$(printf '%s' "$envfile" | base64 -w0)
CWD=$PWD
case $CWD in *[[:space:]]*) CWD=/ ;; esac
APPEND="console=ttyS0 quiet loglevel=3 panic=-1 oops=panic lvs.cmd=$SCRIPT lvs.cwd=$CWD lvs.env=$ENVB64${KEEP:+ lvs.keep=$KEEP}"
[ ${#APPEND} -lt 2000 ] || { echo "run.sh: kernel command line too long (too many E2E_* variables?)" >&2; exit 2; }

ACCEL=${VM_ACCEL:-tcg}
case $ACCEL in
kvm) ACCELOPTS=(-accel kvm -cpu host) ;;
tcg) ACCELOPTS=(-accel tcg,thread=multi -cpu max) ;;
*) echo "run.sh: VM_ACCEL must be tcg or kvm" >&2; exit 2 ;;
esac

LOG=$CACHE/console.$$.log
qpid=
cleanup() {
	[ -n "$qpid" ] && kill "$qpid" 2>/dev/null || true
	[ -f "$LOG" ] && mv -f "$LOG" "$CACHE/console.log" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

echo "run.sh: booting $K ($ACCEL, ${MEM} MB, $CPUS CPUs, timeout ${TIMEOUT}s): $SCRIPT" >&2
t0=$(date +%s)

# The console goes to a FIFO read line by line: lines between VMSTART and
# VMEXIT=<rc> are printed at once; everything is kept in $LOG.
FIFO=$CACHE/console.$$.fifo
rm -f "$FIFO"; mkfifo "$FIFO"
timeout --foreground -k 10 "$TIMEOUT" qemu-system-x86_64 \
	-nodefaults -no-user-config -display none -monitor none -serial stdio \
	"${ACCELOPTS[@]}" -m "$MEM" -smp "$CPUS" -no-reboot \
	-kernel "$KERNEL" -initrd "$CACHE/initrd.gz" -append "$APPEND" \
	-fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap \
	-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
	</dev/null >"$FIFO" 2>&1 &
qpid=$!

exec 3<"$FIFO"
rm -f "$FIFO"
state=boot
rc=
vmfile=
OUT=${VM_OUT:-$CACHE/out}
: > "$LOG"
while IFS= read -r line <&3 || [ -n "$line" ]; do
	line=${line%$'\r'}
	printf '%s\n' "$line" >> "$LOG"
	if [[ $line =~ ^VMEXIT=([0-9]+)$ ]]; then
		rc=${BASH_REMATCH[1]}
		break
	elif [ "$state" = boot ]; then
		if [ "$line" = VMSTART ]; then
			state=run
			echo "run.sh: VM up after $(( $(date +%s) - t0 ))s" >&2
		elif [ "${VM_VERBOSE:-}" = 1 ]; then
			printf '%s\n' "$line" >&2
		fi
	elif [[ $line =~ ^VMFILE-BEGIN\ ([A-Za-z0-9._-]+)$ ]]; then
		vmfile=${BASH_REMATCH[1]}
		mkdir -p "$OUT"
		: > "$OUT/$vmfile.b64"
	elif [ -n "$vmfile" ]; then
		if [ "$line" = VMFILE-END ]; then
			if base64 -d -i "$OUT/$vmfile.b64" > "$OUT/$vmfile"; then
				echo "run.sh: saved $OUT/$vmfile" >&2
			else
				echo "run.sh: could not decode $vmfile" >&2
			fi
			rm -f "$OUT/$vmfile.b64"
			vmfile=
		else
			printf '%s\n' "$line" >> "$OUT/$vmfile.b64"
		fi
	else
		printf '%s\n' "$line"
	fi
done
# The VM powers itself off after VMEXIT; keep logging until it does.
[ -z "$rc" ] || timeout 20 cat <&3 >> "$LOG" || true
exec 3<&-
if kill -0 "$qpid" 2>/dev/null && [ -n "$rc" ]; then kill "$qpid" 2>/dev/null || true; fi
set +e
wait "$qpid"
qrc=$?
set -e
qpid=

elapsed=$(( $(date +%s) - t0 ))
if [ -z "$rc" ]; then
	if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
		echo "run.sh: VM TIMED OUT after ${elapsed}s (VM_TIMEOUT=$TIMEOUT); no VMEXIT marker" >&2
	else
		echo "run.sh: VM ended without a VMEXIT marker (qemu exit $qrc, ${elapsed}s): crash or boot failure" >&2
	fi
	if [ "$state" = boot ]; then
		echo "run.sh: last console lines:" >&2
		tail -n 30 "$LOG" >&2
	fi
	echo "run.sh: full console log: $CACHE/console.log" >&2
	exit 125
fi
# Nothing more on success: the script's last line stays the last line.
[ "$rc" = 0 ] || echo "run.sh: script exited $rc (VM ran ${elapsed}s)" >&2
exit "$rc"
