#!/usr/bin/env bash
# Build the Debian package, or install the same tree into DESTDIR.
#
#   scripts/mkdeb.sh deb BUILD_DIR OUT_DIR     -> OUT_DIR/lvsdirector_VERSION_ARCH.deb
#   scripts/mkdeb.sh install BUILD_DIR DESTDIR
#
# BUILD_DIR holds the binaries (make build). VERSION defaults to
# 0.1.N where N counts the commits. The package ships nothing under
# /etc/ha.d: an operator's heartbeat files stay as they are.
set -euo pipefail
mode=$1 build=$2 out=$3
top=$(cd "$(dirname "$0")/.." && pwd)
for b in directord ldirectord directorctl cl_status; do
	[ -x "$build/$b" ] || { echo "mkdeb: $build/$b missing (make build)" >&2; exit 1; }
done

# stage ROOT: lay out the installed tree under ROOT.
stage() {
	local root=$1 doc=$1/usr/share/doc/lvsdirector
	install -d "$root/usr/sbin" "$root/lib/systemd/system" "$root/usr/lib/modules-load.d" \
		"$root/etc/lvsdirector" "$root/usr/share/man/man8" "$doc/examples"
	install -m 755 "$build/directord" "$build/ldirectord" "$build/directorctl" "$root/usr/sbin/"
	install -m 644 "$top/systemd/directord.service" "$top/systemd/ldirectord.service" "$root/lib/systemd/system/"
	install -m 644 "$top/systemd/modules-load-ipvs.conf" "$root/usr/lib/modules-load.d/lvsdirector-ipvs.conf"
	install -m 644 "$top/etc/settings.toml" "$root/etc/lvsdirector/settings.toml"
	install -m 644 "$top/README.md" "$doc/README.md"
	install -m 644 "$top/etc/ldirectord.cf" "$top/etc/settings.toml" "$top"/packaging/examples/* "$doc/examples/"
	local m
	for m in "$top"/packaging/man/*.8; do
		gzip -9n < "$m" > "$root/usr/share/man/man8/$(basename "$m").gz"
	done
	# heartbeat's commands, answered by directord: one binary that acts by
	# the name it is called by, at heartbeat's paths and on PATH.
	install -d "$root/usr/bin" "$root/usr/share/heartbeat" "$root/usr/lib/heartbeat"
	install -m 755 "$build/cl_status" "$root/usr/bin/"
	for m in hb_standby hb_takeover; do
		ln -sfn cl_status "$root/usr/bin/$m"
		ln -sfn ../../bin/cl_status "$root/usr/share/heartbeat/$m"
		ln -sfn ../../bin/cl_status "$root/usr/lib/heartbeat/$m"
	done
}

case $mode in
install)
	stage "$out"
	;;
deb)
	version=${VERSION:-0.1.$(git -C "$top" rev-list --count HEAD 2>/dev/null || echo 0)}
	arch=$(dpkg --print-architecture)
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	stage "$tmp/root"
	install -d "$tmp/root/DEBIAN"
	install -m 755 "$top"/packaging/debian/{postinst,prerm,postrm} "$tmp/root/DEBIAN/"
	install -m 644 "$top/packaging/debian/conffiles" "$tmp/root/DEBIAN/"
	size=$(du -sk --exclude=DEBIAN "$tmp/root" | cut -f1)
	sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" \
		"$top/packaging/debian/control.in" > "$tmp/root/DEBIAN/control"
	(cd "$tmp/root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) > "$tmp/root/DEBIAN/md5sums"
	mkdir -p "$out"
	deb=$out/lvsdirector_${version}_${arch}.deb
	rm -f "$out"/lvsdirector_*.deb
	dpkg-deb --build -Zxz --root-owner-group "$tmp/root" "$deb" >/dev/null
	echo "$deb"
	;;
*)
	echo "usage: $0 deb|install BUILD_DIR OUT_DIR" >&2; exit 2 ;;
esac
