#!/usr/bin/env bash
# The demo (make demo), run inside the VM: a NAT farm of three nginx real
# servers behind our ldirectord; watch the IPVS table while a real server
# fails and recovers, and while the fallback takes over when all are down.
set -u
. "$(dirname "$0")/lib.sh"

LD=$BUILD/ldirectord
SVC=$VIP:80
show() {
	echo
	echo "### $*"
	ipvs_dump -t $SVC | sed 's/^/    /'
	echo "    client -> http://$VIP/ x6:"
	cli_tally 6 "http://$VIP/" | sed 's/^/      /'
}

echo "== building the farm: client 10.0.0.50 -> VIP $VIP (director) -> 3 nginx reals $(rsip 1)..$(rsip 3)"
farm_up 3
vip_add
mkdir -p /tmp/demo/sorry && echo "sorry, all real servers are down" > /tmp/demo/sorry/index.html
in_dir busybox httpd -p 80 -h /tmp/demo/sorry
cat > /tmp/demo/ldirectord.cf <<EOF
checktimeout=2
negotiatetimeout=2
checkinterval=1
quiescent=yes
logfile="/tmp/demo/ldirectord.log"
fallback=127.0.0.1:80 gate

virtual=$VIP:80
	real=$(rsip 1):80 masq 1
	real=$(rsip 2):80 masq 1
	real=$(rsip 3):80 masq 1
	service=http
	request="test.html"
	receive="ok"
	scheduler=rr
EOF
echo "== /tmp/demo/ldirectord.cf:"; sed 's/^/    /' /tmp/demo/ldirectord.cf
in_dir $LD /tmp/demo/ldirectord.cf start || { echo "ldirectord failed to start"; exit 1; }
wait_weight $SVC $(rsip 3):80 1 20000 >/dev/null
show "all three real servers healthy"

rm -f /srv/www/$(rsip 2)/test.html
wait_weight $SVC $(rsip 2):80 0 10000 >/dev/null
show "$(rsip 2)'s check page removed: quiesced (weight 0), clients avoid it"

echo ok > /srv/www/$(rsip 2)/test.html
wait_weight $SVC $(rsip 2):80 1 10000 >/dev/null
show "$(rsip 2) healed: weight back to 1"

for i in 1 2 3; do rm -f /srv/www/$(rsip $i)/test.html; done
wait_weight $SVC 127.0.0.1:80 1 10000 >/dev/null
show "all real servers failing: the fallback (sorry server on the director) is in"

echo ok > /srv/www/$(rsip 1)/test.html
wait_weight $SVC 127.0.0.1:80 absent 10000 >/dev/null
show "$(rsip 1) back: fallback out"

in_dir $LD /tmp/demo/ldirectord.cf stop
echo
echo "### after 'ldirectord stop' (cleanstop): the virtual is gone"
ipvs_dump | sed 's/^/    /'
echo
echo "== ldirectord log:"
sed 's/^/    /' /tmp/demo/ldirectord.log
farm_down
