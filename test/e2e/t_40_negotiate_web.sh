# Negotiate checks against real servers (1/4): http and https (nginx,
# virtualhost as Host and SNI), http_proxy (tinyproxy), dns (dnsmasq, UDP
# and TCP, A and PTR), simpletcp (socat), and ping. Our ldirectord runs in
# the foreground with checkinterval=1 and quiescent=yes; every real goes to
# its weight, to 0 when its server stops or answers wrong, and back.
# e2e-timeout: 300

source "$(dirname "$0")/servers.sh"
srv_need nginx tinyproxy dnsmasq socat openssl curl

CFG=$E2E_TMP/ld.cf
R1=$(rsip 1) R2=$(rsip 2) R3=$(rsip 3)
VIP2=10.0.0.101
NOREAL=10.0.1.40

srv_reset
farm_up 3
vip_add
vip_add $VIP2
srv_web_start || die "nginx (vhost, TLS) did not start"
srv_proxy_start || die "tinyproxy did not start"
srv_dns_start || die "dnsmasq did not start"
srv_tcp_start || die "socat did not start"

cat > "$CFG" <<EOF
checktimeout=3
negotiatetimeout=5
checkinterval=1
failurecount=1
quiescent=yes

virtual=$VIP:8000
	real=$R1:8000 masq 2
	service=http
	checktype=negotiate
	request="test.html"
	receive="^vhost ok"
	virtualhost=$SRV_VHOST
	scheduler=rr

virtual=$VIP:443
	real=$R1:443 masq 3
	service=https
	checktype=negotiate
	request="test.html"
	receive="^vhost ok"
	virtualhost=$SRV_VHOST
	scheduler=rr

# No virtualhost: neither Host nor SNI names the site: nginx's default
# server answers 404, so this real must stay at 0.
virtual=$VIP2:443
	real=$R1:443 masq 3
	service=https
	checktype=negotiate
	request="test.html"
	receive="^vhost ok"
	scheduler=rr

virtual=$VIP:3128
	real=$R1:3128 masq 4
	service=http_proxy
	checktype=negotiate
	request="http://$R2/test.html"
	receive="^ok"
	scheduler=rr

virtual=$VIP:53
	protocol=udp
	real=$R1:53 masq 5
	service=dns
	checktype=negotiate
	request="$SRV_DNS_NAME"
	receive="^$SRV_DNS_A\$"
	scheduler=rr

virtual=$VIP:53
	protocol=tcp
	real=$R1:53 masq 6
	service=dns
	checktype=negotiate
	request="$SRV_DNS_A"
	receive="^$SRV_DNS_NAME"
	scheduler=rr

virtual=$VIP:7777
	real=$R1:7777 masq 7
	service=simpletcp
	checktype=negotiate
	request="hello\n"
	receive="^200 simpletcp"
	scheduler=rr

# Ping: R3 answers until its address is removed; NOREAL is an address
# nobody has (no ARP answer, no echo reply).
virtual=$VIP:9
	real=$R3:9 masq 8
	real=$NOREAL:9 masq 9
	checktype=ping
	scheduler=rr
EOF

ld_run "$CFG"

test_http_virtualhost() {
	srv_cycle "http (Host)" $VIP:8000 $R1:8000 2 srv_web_stop srv_web_start
	srv_cycle "http page gone (404)" $VIP:8000 $R1:8000 2 "rm $SRV_WWW/test.html" "echo 'vhost ok' > $SRV_WWW/test.html"
}

test_https_virtualhost() {
	srv_cycle "https (SNI and Host)" $VIP:443 $R1:443 3 srv_web_stop srv_web_start
	srv_cycle "https page answers wrong" $VIP:443 $R1:443 3 "echo 'vhost broken' > $SRV_WWW/test.html" "echo 'vhost ok' > $SRV_WWW/test.html"
	assert_eq "https without virtualhost (nginx default server, 404) stays down" "$(weight_of $VIP2:443 $R1:443)" 0
}

test_http_proxy() {
	srv_cycle "http_proxy" $VIP:3128 $R1:3128 4 srv_proxy_stop srv_proxy_start
	srv_cycle "http_proxy, page behind it gone" $VIP:3128 $R1:3128 4 "rs_fail $R2" "rs_heal $R2"
}

test_dns() {
	srv_cycle "dns A over udp" udp:$VIP:53 $R1:53 5 srv_dns_stop srv_dns_start
	expect_weight "dns PTR over tcp: up" $VIP:53 $R1:53 6 20000
	# The name now has another address (and the old one no PTR): both down.
	srv_dns_stop
	srv_dns_start "" 10.0.1.98
	expect_weight "dns A over udp: down when the answer changes" udp:$VIP:53 $R1:53 0 15000
	expect_weight "dns PTR over tcp: down when the answer changes" $VIP:53 $R1:53 0 15000
	srv_dns_stop
	srv_dns_start
	expect_weight "dns A over udp: up with the right answer" udp:$VIP:53 $R1:53 5 20000
	srv_cycle "dns PTR over tcp" $VIP:53 $R1:53 6 srv_dns_stop srv_dns_start
}

test_simpletcp() {
	srv_cycle "simpletcp" $VIP:7777 $R1:7777 7 srv_tcp_stop srv_tcp_start
	srv_cycle "simpletcp wrong line" $VIP:7777 $R1:7777 7 "srv_tcp_stop; srv_tcp_start '' 7777 '500 go away'" "srv_tcp_stop; srv_tcp_start"
}

test_ping() {
	# (R3, not R1: removing a subnet's primary address removes the others.)
	srv_cycle "ping" $VIP:9 $R3:9 8 "rs_unplug $R3" "rs_plug $R3"
	assert_eq "ping: an address that does not answer stays down" "$(weight_of $VIP:9 $NOREAL:9)" 0
}
