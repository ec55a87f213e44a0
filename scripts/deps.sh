#!/usr/bin/env bash
# Install what the build and the tests need on a Debian 12 machine, and only
# what is missing: nothing is downloaded when everything is there already.
#
# The VM tests boot Debian's kernel (linux-image-amd64) under qemu; installing
# that package does not change which kernel this machine boots, we only read
# its vmlinuz and modules. ldirectord is installed to compare its tables with
# ours; it is never started on this machine (service starts are blocked during
# the install, and its unit is disabled if we installed it).
set -euo pipefail

PKGS=(
	qemu-system-x86 linux-image-amd64 busybox-static cpio kmod ipvsadm iproute2
	nginx-light iputils-ping curl ldirectord
	gcc libc6-dev git ca-certificates # go test -race needs cgo; go build stamps VCS info
)

missing=()
for p in "${PKGS[@]}"; do
	# "install ok installed" only; half-removed packages count as missing.
	if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -gt 0 ]; then
	SUDO=
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null || { echo "deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
		SUDO=sudo
	fi
	echo "deps: installing ${missing[*]}"
	# Keep package scripts from starting nginx/ldirectord on this machine.
	made_policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
		$SUDO chmod 755 /usr/sbin/policy-rc.d
		made_policy=1
	fi
	trap '[ -z "$made_policy" ] || $SUDO rm -f /usr/sbin/policy-rc.d' EXIT
	$SUDO apt-get update
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
	if [[ " ${missing[*]} " == *" ldirectord "* ]] && command -v systemctl >/dev/null; then
		$SUDO systemctl disable ldirectord.service >/dev/null 2>&1 || true
	fi
fi

# Go is not packaged here: it is expected at /usr/local/go.
export PATH=/usr/local/go/bin:$PATH
if ! command -v go >/dev/null; then
	echo "deps: go not found (expected /usr/local/go/bin/go); install Go 1.26 to /usr/local/go" >&2
	exit 1
fi

# The VM needs a kernel image with the IPVS modules next to it.
ok=
for k in $(ls /lib/modules 2>/dev/null); do
	if [ -r "/boot/vmlinuz-$k" ] && ls "/lib/modules/$k/kernel/net/netfilter/ipvs/ip_vs.ko"* >/dev/null 2>&1; then
		ok=1
	fi
done
[ -n "$ok" ] || { echo "deps: no readable /boot/vmlinuz-* with ip_vs modules" >&2; exit 1; }
echo "deps: ok"
