#!/usr/bin/env bash
# Install what the build and the tests need on a Debian 12 machine, and only
# what is missing: nothing is downloaded when everything is there already.
#
# The VM tests boot Debian's kernel (linux-image-amd64) under qemu; installing
# that package does not change which kernel this machine boots, we only read
# its vmlinuz and modules. ldirectord is installed to compare its tables with
# ours; it is never started on this machine (service starts are blocked during
# the install, and its unit is disabled if we installed it). heartbeat and
# keepalived likewise: the interop test and the failover benchmark run them
# inside the VM only.
set -euo pipefail

PKGS=(
	qemu-system-x86 linux-image-amd64 busybox-static cpio kmod ipvsadm iproute2
	nginx-light iputils-ping curl ldirectord
	heartbeat keepalived # the peers of the interop test and the failover benchmark, VM only
	gcc libc6-dev git ca-certificates # go test -race needs cgo; go build stamps VCS info
	python3-minimal # test/e2e/tools/hbcapture.py (the replay test)
	chromium fonts-dejavu-core # the status page in a real browser (t_82), VM only
	# real servers for the negotiate checks (test/e2e/servers.sh), VM only
	openssl tinyproxy-bin dnsmasq-base exim4-daemon-light dovecot-imapd dovecot-pop3d
	inn2 vsftpd slapd kamailio freeradius mariadb-server postgresql socat
)

# `deps.sh demo`: only what make demo needs (the pair, a NAT farm, a
# client, the status page), not the servers of the negotiate tests.
if [ "${1:-}" = demo ]; then
	PKGS=(qemu-system-x86 linux-image-amd64 busybox-static cpio kmod ipvsadm iproute2 nginx-light
		iputils-ping curl python3-minimal chromium fonts-dejavu-core)
fi

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
	# Units enabled before (systemd wants links: services, timers, sockets;
	# SysV S links), to disable only what this install enables.
	enabled_services() {
		local f
		for f in /etc/systemd/system/*.wants/*.{service,timer,socket} /etc/rc[2345].d/S*; do
			[ -L "$f" ] || continue
			f=${f##*/}
			[[ $f =~ ^S[0-9]+(.*)$ ]] && f=${BASH_REMATCH[1]}.service
			echo "$f"
		done | sort -u
	}
	was_enabled=$(enabled_services)
	$SUDO apt-get update
	if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"; then
		# inn2's postinst stops when this machine's name has no domain (as in
		# containers and CI): give INN one in its inn.conf and finish.
		[ "$(dpkg-query -W -f='${Status}' inn2 2>/dev/null)" != "install ok installed" ] &&
			[ -f /etc/news/inn.conf ] && ! grep -q '^domain:' /etc/news/inn.conf || exit 1
		echo "deps: inn2 needs a domain name; setting 'domain: localdomain' in /etc/news/inn.conf"
		$SUDO sed -i 's/^#[[:space:]]*domain:.*/domain: localdomain/' /etc/news/inn.conf
		grep -q '^domain:' /etc/news/inn.conf || echo 'domain: localdomain' | $SUDO tee -a /etc/news/inn.conf >/dev/null
		$SUDO env DEBIAN_FRONTEND=noninteractive dpkg --configure -a
		$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
	fi
	# Whatever the install enabled (dovecot, exim4 and its timer, inn2,
	# vsftpd, slapd, kamailio, freeradius, mariadb, postgresql, cron, rsync,
	# ...) is disabled and, should it run, stopped: these are for the VM only.
	for u in $(comm -13 <(echo "$was_enabled") <(enabled_services)); do
		if command -v systemctl >/dev/null; then
			$SUDO systemctl disable "$u" >/dev/null 2>&1 || true
		elif [ "${u%.service}" != "$u" ]; then
			$SUDO update-rc.d "${u%.service}" disable >/dev/null 2>&1 || true
		fi
		if [ -d /run/systemd/system ]; then
			$SUDO systemctl stop "$u" >/dev/null 2>&1 || true
		fi
		echo "deps: disabled $u (test VM only)"
	done
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
