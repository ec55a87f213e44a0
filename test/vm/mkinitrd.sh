#!/bin/sh
# Build the e2e VM's initramfs: busybox, the kernel modules IPVS tests need
# (taken from the installed Debian kernel, dependencies resolved with
# modprobe --show-depends), and an /init that mounts the host root read-only
# over 9p under a tmpfs overlay and runs the script named by lvs.cmd= on the
# kernel command line.
#
# Usage: mkinitrd.sh OUTDIR KERNEL_VERSION
# Writes OUTDIR/initrd.gz and OUTDIR/modules.txt. Normally called by run.sh,
# which decides when a rebuild is due.
set -eu

OUT=$1
K=$2
MODDIR=/lib/modules/$K

[ -d "$MODDIR" ] || { echo "mkinitrd: $MODDIR missing" >&2; exit 1; }
BB=$(command -v busybox || true)
[ -n "$BB" ] || { echo "mkinitrd: busybox not found (apt-get install busybox-static)" >&2; exit 1; }
if ! "$BB" --list | grep -qx insmod; then
	echo "mkinitrd: $BB lacks insmod; need busybox-static" >&2
	exit 1
fi

# Wanted modules. Missing ones (e.g. ip_vs_twos before 6.2) are skipped
# silently; the VM prints what it loaded into /run/vm-modules.
MODULES="
ip_vs
ip_vs_rr ip_vs_wrr ip_vs_lc ip_vs_wlc ip_vs_lblc ip_vs_lblcr ip_vs_dh ip_vs_sh
ip_vs_sed ip_vs_nq ip_vs_fo ip_vs_ovf ip_vs_mh ip_vs_twos
ip_vs_ftp
nf_conntrack nf_nat nf_conntrack_netlink
veth bridge dummy macvlan ipip tun sch_netem
9p 9pnet_virtio overlay virtio_pci
ip_tables iptable_filter iptable_nat iptable_mangle iptable_raw
xt_MASQUERADE xt_mark xt_MARK xt_conntrack xt_multiport xt_REDIRECT
nf_tables nft_compat nft_chain_nat nft_masq nft_ct
inet_diag tcp_diag udp_diag raw_diag
"

STAGE=$OUT/stage.$$
trap 'rm -rf "$STAGE"' EXIT
rm -rf "$STAGE"
mkdir -p "$STAGE/root"
R=$STAGE/root
mkdir -p "$R/bin" "$R/proc" "$R/sys" "$R/dev" "$R/mods" "$R/lower" "$R/rw" "$R/newroot"
cp "$BB" "$R/bin/busybox"

# Resolve dependencies in load order, dropping duplicates and builtins.
for m in $MODULES; do
	modprobe -S "$K" --show-depends "$m" 2>/dev/null || true
done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' > "$STAGE/order.txt"

n=0
: > "$STAGE/modules.txt"
while read -r f; do
	n=$((n + 1))
	base=$(basename "$f")
	case $base in
	*.ko.xz)  name=${base%.xz};  xz -dc "$f" > "$R/mods/$(printf %03d "$n")_$name" ;;
	*.ko.zst) name=${base%.zst}; zstd -qdc "$f" > "$R/mods/$(printf %03d "$n")_$name" ;;
	*.ko.gz)  name=${base%.gz};  gzip -dc "$f" > "$R/mods/$(printf %03d "$n")_$name" ;;
	*)        name=$base;        cp "$f" "$R/mods/$(printf %03d "$n")_$name" ;;
	esac
	echo "${name%.ko}" >> "$STAGE/modules.txt"
done < "$STAGE/order.txt"
grep -qx ip_vs "$STAGE/modules.txt" || { echo "mkinitrd: kernel $K has no ip_vs module" >&2; exit 1; }
grep -qx 9pnet_virtio "$STAGE/modules.txt" || { echo "mkinitrd: kernel $K has no 9pnet_virtio module" >&2; exit 1; }

cat > "$R/init" <<'INIT'
#!/bin/busybox sh
# PID 1 of the e2e VM. Prints VMSTART, runs the script, prints VMEXIT=<rc>, powers off.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec </dev/null >/dev/console 2>&1

for m in /mods/*.ko; do
	case $m in
	*_dummy.ko) opts=numdummies=0 ;;   # no stray dummy0
	*) opts= ;;
	esac
	insmod "$m" $opts 2>/dev/null || echo "vm: insmod failed: ${m#/mods/}"
done
echo "vm: modules loaded at $(cut -d' ' -f1 /proc/uptime)s"

arg() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" /proc/cmdline; }
CMD=$(arg lvs.cmd)
CWD=$(arg lvs.cwd)
ENVB64=$(arg lvs.env)
KEEP=$(arg lvs.keep)
die() {
	echo "vm: $*"
	echo "VMEXIT=125"
	echo o > /proc/sysrq-trigger 2>/dev/null || echo o > /newroot/proc/sysrq-trigger
	sleep 30
	exit 1
}
[ -n "$CMD" ] || die "no lvs.cmd= on the kernel command line"

# Host root, read-only, under a tmpfs overlay so that tests may write anywhere.
# cache=loose: the host tree does not change under a running VM; page-caching
# 9p reads is what makes starting binaries from it fast.
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /lower ||
	mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000 hostroot /lower ||
	die "9p mount of the host root failed"
mount -t tmpfs -o mode=0755 rw /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot ||
	die "overlay mount failed"
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
mount -t tmpfs -o mode=1777 tmp /newroot/tmp
mount -t tmpfs -o mode=0755 run /newroot/run
if [ -n "$KEEP" ]; then  # a checkout under /tmp or /run on the host
	mkdir -p "/newroot$KEEP" && mount --bind "/lower$KEEP" "/newroot$KEEP" || die "cannot share $KEEP"
fi
mkdir -p /newroot/run/netns /newroot/run/lock /newroot/dev/pts /newroot/dev/shm
ln -sf /proc/self/fd /newroot/dev/fd     # devtmpfs has no /dev/fd: bash <(...) needs it
ln -sf /proc/self/fd/0 /newroot/dev/stdin
ln -sf /proc/self/fd/1 /newroot/dev/stdout
ln -sf /proc/self/fd/2 /newroot/dev/stderr
mount -t devpts -o newinstance,ptmxmode=0666 devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 shm /newroot/dev/shm
cp /newroot/proc/modules /newroot/run/vm-modules 2>/dev/null

printf '%s' "$ENVB64" | base64 -d > /newroot/run/vm-env 2>/dev/null || die "bad lvs.env"

hostname lvs-e2e
exec chroot /newroot /bin/sh -c '
	export PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
	export HOME=/root LANG=C.UTF-8 TERM=dumb
	unset HOSTNAME
	set -a; . /run/vm-env; set +a
	ip link set lo up
	cd "$2" 2>/dev/null || cd /
	echo "vm: running $1 at $(cut -d" " -f1 /proc/uptime)s"
	echo VMSTART
	if [ -x "$1" ]; then "$1"
	elif head -n1 "$1" | grep -q "^#!.*bash"; then bash "$1"
	else sh "$1"; fi
	echo "VMEXIT=$?"
	sync
	echo o > /proc/sysrq-trigger
	sleep 60
' vm "$CMD" "$CWD"
INIT
chmod +x "$R/init"

(cd "$R" && find . | cpio -o -H newc --quiet | gzip -1) > "$STAGE/initrd.gz"
mv "$STAGE/modules.txt" "$OUT/modules.txt"
mv "$STAGE/initrd.gz" "$OUT/initrd.gz"
