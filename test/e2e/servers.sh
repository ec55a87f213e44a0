# shellcheck shell=bash
# Real servers for the negotiate checks, run inside the farm's namespace rs
# (sourced by the t_40_* tests after lib.sh; farm_up first). Every server is
# the Debian package's own daemon (scripts/deps.sh installs them), configured
# from scratch under $SRV_TMP at test time, bound to a real's address (the
# first real by default) on the service's standard port:
#
#   srv_web_start [IP]       nginx: http :8000, https :443 (self-signed), with
#                            a default server (404) and the name-based virtual
#                            host $SRV_VHOST (https: SNI must equal Host, 421
#                            otherwise); page $SRV_WWW/test.html = "vhost ok"
#   srv_proxy_start [IP]     tinyproxy :3128 (any 10/8 client)
#   srv_dns_start [IP] [A]   dnsmasq :53 udp+tcp: $SRV_DNS_NAME A A (default
#                            $SRV_DNS_A) and its PTR
#   srv_smtp_start [IP]      exim4 :25 and :587 (submission), every message
#                            accepted and appended to $(srv_mbox smtp);
#                            SRV_SMTP_REFUSE=TEXT: 554 TEXT to every client
#   srv_smtp_sink [NS] [ADDR] [PORT]   the same MTA as a mail sink anywhere
#                            (default rs, first real, 25); srv_mbox prints the
#                            mbox file, srv_mbox_wait REGEX MS waits for a line
#   srv_mail_start [IP]      dovecot: pop3 :110, pop3s :995, imap :143,
#                            imaps :993; user $SRV_USER / $SRV_PASS
#   srv_nntp_start [IP]      INN 2 (innd, readers via nnrpd) :119
#   srv_ftp_start [IP]       vsftpd :21: anonymous ($SRV_FTP/anon/test.txt) and
#                            the local (system) user $SRV_USER, chrooted
#                            ($SRV_FTP/home/test.txt)
#   srv_ldap_start [IP]      slapd: ldap :389, ldaps :636 (self-signed), base
#                            $SRV_LDAP_BASE, bind DN $SRV_LDAP_ADMIN / $SRV_PASS
#   srv_sip_start [IP]       kamailio :5060 udp+tcp, OPTIONS answered 200 OK
#                            (SRV_SIP_REPLY="CODE REASON": that instead)
#   srv_radius_start [IP]    freeradius :1812 udp, client 10/8 with secret
#                            $SRV_SECRET, user $SRV_USER / $SRV_PASS (PAP)
#   srv_mysql_start [IP]     mariadb :3306: database $SRV_DB, table t (1 row),
#                            user $SRV_USER / $SRV_PASS (initialised at the
#                            first start, kept across restarts)
#   srv_pgsql_start [IP]     postgresql :5432, same database, table and user
#   srv_tcp_start [IP] [PORT] [LINE]  socat: answers LINE (default
#                            $SRV_TCP_LINE) on tcp :PORT (default 7777)
#
# srv_X_stop stops the server (and waits until its ports are closed); every
# server is also stopped by farm_down (lib.sh). Start functions wait until
# the server listens, log its start-up time, and return 1 (showing the end
# of its log) if it did not come up. Logs are $E2E_TMP/srv-NAME.log.
# Also: srv_need CMD... (die unless installed), srv_reset (fresh $SRV_TMP),
# srv_mysql_init / srv_pgsql_init (data directories ahead of the start),
# srv_mail_passwd, srv_nntp_ctl, srv_mysql_sql, srv_pgsql_sql; and for the
# tests: ld_run CFG, expect_weight, srv_cycle (at the end of this file).
#
# Daemons that look up names get a resolver that fails at once inside
# namespace rs (/etc/netns/rs/, the VM's throw-away /etc); exim's config is
# listed in /etc/exim4/trusted_configs and vsftpd's local user is made with
# useradd, both in that throw-away /etc too.

SRV_TMP=/tmp/srv             # configs, data, pid files (short: socket paths)
SRV_DOMAIN=e2e.test
SRV_VHOST=www.e2e.test
SRV_USER=e2euser
SRV_PASS=e2e-Secret1
SRV_SECRET=e2e-radius-secret
SRV_DB=e2edb
SRV_WWW=$SRV_TMP/www
SRV_FTP=$SRV_TMP/ftp
SRV_LDAP_BASE=dc=e2e,dc=test
SRV_LDAP_ADMIN=cn=admin,dc=e2e,dc=test
SRV_DNS_NAME=www.e2e.test
SRV_DNS_A=10.0.1.99
SRV_TCP_LINE="200 simpletcp ready"

# ------------------------------------------------------------- helpers ---

# _srv_ip [IP]: the address a server binds ($1, default the first real).
_srv_ip() { SRVIP=${1:-$(rsip 1)}; }

# _srv_has SS_OUTPUT PROTO ADDR PORT: a socket in ss -Hlntu output is of
# PROTO and bound to ADDR:PORT (or to the wildcard address and PORT).
_srv_has() {
	local netid state rq sq local rest
	while read -r netid state rq sq local rest; do
		[ "$netid" = "$2" ] || continue
		case $local in
		"$3:$4" | "0.0.0.0:$4" | "*:$4" | "[::]:$4") return 0 ;;
		esac
	done <<<"$1"
	return 1
}

# _srv_listening NS ADDR PROTO:PORT...: every port has a socket in NS.
_srv_listening() {
	local ns=$1 addr=$2 p out
	shift 2
	out=$(ip netns exec "$ns" ss -Hlntu 2>/dev/null) || return 1
	for p in "$@"; do
		_srv_has "$out" "${p%%:*}" "$addr" "${p#*:}" || return 1
	done
}

# _srv_closed NS ADDR PROTO:PORT...: none of the ports has a socket in NS.
_srv_closed() {
	local ns=$1 addr=$2 p out
	shift 2
	out=$(ip netns exec "$ns" ss -Hlntu 2>/dev/null) || return 1
	for p in "$@"; do
		_srv_has "$out" "${p%%:*}" "$addr" "${p#*:}" && return 1
	done
	return 0
}

# _srv_netns_etc NS: files "ip netns exec NS" puts over /etc in the VM's
# throw-away root, for namespace rs only: a resolver that fails at once
# (from rs the host's name server is routed to the director and lost, and
# servers that look up their own address or name would wait seconds for it)
# and the host's /etc/hosts plus names for the reals.
_srv_netns_etc() {
	local i
	[ "$1" = rs ] || return 0
	[ -e "/etc/netns/$1/resolv.conf" ] && return 0
	mkdir -p "/etc/netns/$1" || return 1
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' > "/etc/netns/$1/resolv.conf"
	{
		cat /etc/hosts
		for ((i = 1; i <= ${FARM_N:-1}; i++)); do
			_rsip $i
			printf '%s\tr%d.%s r%d\n' "$RSIP" $i "$SRV_DOMAIN" $i
		done
	} > "/etc/netns/$1/hosts"
}

# _srv_run NAME NS PORTS CMD...: start CMD (a foreground daemon) in
# namespace NS with bg_start srv-NAME and wait (30 s) until it listens on
# $SRVIP at every PROTO:PORT of PORTS (space-separated). Logs the start-up
# time.
_srv_run() {
	local name=$1 ns=$2 ports=$3 t0 pid
	shift 3
	_srv_netns_etc "$ns"
	echo "$ns $SRVIP $ports" > "$SRV_TMP/$name.ports"
	t0=$(now_ms)
	# shellcheck disable=SC2086
	bg_start "srv-$name" ip netns exec "$ns" "$@"
	pid=$(bg_pid "srv-$name")
	# shellcheck disable=SC2086
	if ! wait_until 30000 eval "_alive $pid && _srv_listening $ns $SRVIP $ports"; then
		log "srv $name: not listening on $ports after ${WAITED_MS} ms; its log:"
		bg_log "srv-$name" | tail -n 20 | sed 's/^/      | /'
		return 1
	fi
	log "srv $name: up in $(($(now_ms) - t0)) ms"
}

# _srv_halt NAME: stop a server started by _srv_run; wait until its ports
# are closed (children of a daemon can hold them a moment longer).
_srv_halt() {
	local ns addr ports t0
	t0=$(now_ms)
	bg_stop "srv-$1"
	read -r ns addr ports < "$SRV_TMP/$1.ports" 2>/dev/null || return 0
	# shellcheck disable=SC2086
	wait_until 10000 _srv_closed $ns $addr $ports || log "srv $1: ports $ports still open after stop"
	[ $(($(now_ms) - t0)) -lt 3000 ] || log "srv $1: stopping took $(($(now_ms) - t0)) ms"
}

# srv_cert: a self-signed certificate for $SRV_VHOST (and *.$SRV_DOMAIN),
# EC P-256 (quick to make under emulation): $SRV_TMP/tls/{cert,key}.pem.
srv_cert() {
	[ -s "$SRV_TMP/tls/cert.pem" ] && return 0
	mkdir -p "$SRV_TMP/tls"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$SRV_TMP/tls/key.pem" -out "$SRV_TMP/tls/cert.pem" -days 2 \
		-subj "/CN=$SRV_VHOST" -addext "subjectAltName=DNS:$SRV_VHOST,DNS:*.$SRV_DOMAIN" \
		>/dev/null 2>&1 || { log "srv_cert: openssl failed"; return 1; }
	chmod 644 "$SRV_TMP/tls/key.pem" # read by daemons after they drop root
}

_srv_mkdir() { mkdir -p "$SRV_TMP" && mkdir -p "$@"; }

# srv_need CMD...: end the test (failed setup) unless every command is
# installed (scripts/deps.sh installs them all).
srv_need() {
	local c missing=
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || [ -x "$c" ] || missing+=" $c"
	done
	[ -z "$missing" ] || die "not installed:$missing (run scripts/deps.sh)"
}

# srv_reset: forget every server's configuration and data (servers must be
# stopped: farm_down does it between tests).
srv_reset() { rm -rf "$SRV_TMP"; }

# ------------------------------------------------------ http / https ---

srv_web_start() {
	_srv_ip "${1:-}"
	srv_cert || return 1
	local d=$SRV_TMP/web
	_srv_mkdir "$d/body" "$SRV_WWW" "$d/default"
	[ -e "$SRV_WWW/test.html" ] || echo "vhost ok" > "$SRV_WWW/test.html"
	echo "default server" > "$d/default/index.html"
	cat > "$d/nginx.conf" <<-EOF
		daemon off;
		worker_processes 1;
		pid $d/nginx.pid;
		error_log stderr;
		events { worker_connections 256; }
		http {
		    access_log off;
		    default_type text/plain;
		    client_body_temp_path $d/body;
		    ssl_certificate $SRV_TMP/tls/cert.pem;
		    ssl_certificate_key $SRV_TMP/tls/key.pem;
		    server {
		        listen $SRVIP:8000 default_server;
		        listen $SRVIP:443 ssl default_server;
		        root $d/default;
		        location / { return 404 "no such site\n"; }
		    }
		    server {
		        listen $SRVIP:8000;
		        listen $SRVIP:443 ssl;
		        server_name $SRV_VHOST;
		        root $SRV_WWW;
		        # https: the name in SNI must be the Host asked for.
		        set \$sni "\$ssl_server_name";
		        if (\$https = "") { set \$sni "\$host"; }
		        if (\$sni != \$host) { return 421 "SNI '\$sni' is not Host '\$host'\n"; }
		    }
		}
	EOF
	_srv_run web rs "tcp:8000 tcp:443" nginx -c "$d/nginx.conf"
}
srv_web_stop() { _srv_halt web; }

# --------------------------------------------------------- http_proxy ---

srv_proxy_start() {
	_srv_ip "${1:-}"
	local d=$SRV_TMP/proxy
	_srv_mkdir "$d"
	cat > "$d/tinyproxy.conf" <<-EOF
		User nobody
		Group nogroup
		Port 3128
		Listen $SRVIP
		Timeout 10
		MaxClients 50
		LogLevel Info
		Allow 10.0.0.0/8
		ConnectPort 443
		DisableViaHeader Yes
	EOF
	_srv_run proxy rs "tcp:3128" tinyproxy -d -c "$d/tinyproxy.conf"
}
srv_proxy_stop() { _srv_halt proxy; }

# ---------------------------------------------------------------- dns ---

# srv_dns_start [IP] [A]: the A record of $SRV_DNS_NAME is A (default
# $SRV_DNS_A); the PTR of A names $SRV_DNS_NAME.
srv_dns_start() {
	_srv_ip "${1:-}"
	local a=${2:-$SRV_DNS_A}
	_srv_mkdir "$SRV_TMP/dns"
	_srv_run dns rs "udp:53 tcp:53" dnsmasq --keep-in-foreground --conf-file=/dev/null \
		--pid-file= --log-facility=- --log-queries --user=nobody --group=nogroup \
		--no-resolv --no-hosts --no-poll --bind-interfaces --listen-address="$SRVIP" \
		--port=53 --local=/"$SRV_DOMAIN"/ --host-record="$SRV_DNS_NAME,$a"
}
srv_dns_stop() { _srv_halt dns; }

# ------------------------------------------------- smtp / submission ---

# _srv_exim NAME NS ADDR PORTS: exim4 as a daemon on ADDR (PORTS like
# "25 : 587") in namespace NS; every message to anyone is accepted and
# appended to $SRV_TMP/NAME/mail/mbox.
_srv_exim() {
	local name=$1 ns=$2 addr=$3 ports=$4 d=$SRV_TMP/$1 p lp= verdict=accept
	srv_cert || return 1
	[ -z "${SRV_SMTP_REFUSE:-}" ] || verdict="deny message = $SRV_SMTP_REFUSE"
	_srv_mkdir "$d/spool" "$d/log" "$d/mail"
	chown Debian-exim:Debian-exim "$d/spool" "$d/log" "$d/mail"
	# A config named in Debian's TRUSTED_CONFIG_LIST keeps exim's privilege
	# when it re-executes itself (deliveries, queue runs) with -C.
	grep -qxF "$d/exim.conf" /etc/exim4/trusted_configs 2>/dev/null ||
		echo "$d/exim.conf" >> /etc/exim4/trusted_configs
	for p in ${ports//:/ }; do lp+=" tcp:$p"; done
	cat > "$d/exim.conf" <<-EOF
		exim_path = /usr/sbin/exim4
		primary_hostname = mx.$SRV_DOMAIN
		qualify_domain = $SRV_DOMAIN
		local_interfaces = <; $addr
		daemon_smtp_ports = $ports
		spool_directory = $d/spool
		log_file_path = $d/log/%slog
		pid_file_path = $d/exim.pid
		host_lookup =
		rfc1413_hosts =
		# STARTTLS with our certificate (without one exim makes a key at
		# every start, seconds under emulation).
		tls_advertise_hosts = *
		tls_certificate = $SRV_TMP/tls/cert.pem
		tls_privatekey = $SRV_TMP/tls/key.pem
		smtp_banner = mx.$SRV_DOMAIN ESMTP Exim \$version_number e2e
		acl_smtp_connect = acl_connect
		acl_smtp_rcpt = acl_rcpt
		message_size_limit = 10M

		begin acl
		acl_connect:
		  $verdict
		acl_rcpt:
		  accept

		begin routers
		sink:
		  driver = accept
		  transport = to_mbox

		begin transports
		to_mbox:
		  driver = appendfile
		  file = $d/mail/mbox
		  user = Debian-exim
		  group = Debian-exim
		  mode = 0644
		  delivery_date_add
		  envelope_to_add
		  return_path_add

		begin retry
		*  *  F,1m,5s
	EOF
	_srv_run "$name" "$ns" "${lp# }" exim4 -C "$d/exim.conf" -bdf -q30s
}

# SRV_SMTP_REFUSE=TEXT srv_smtp_start: every connection is refused with
# "554 TEXT" (exim's connect ACL) instead of the 220 greeting.
srv_smtp_start() {
	_srv_ip "${1:-}"
	_srv_exim smtp rs "$SRVIP" "25 : 587"
}
srv_smtp_stop() { _srv_halt smtp; }

# srv_smtp_sink [NS] [ADDR] [PORT]: an MTA that takes every message (any
# sender, any recipient) and appends it to $(srv_mbox) (mbox format).
srv_smtp_sink() {
	local ns=${1:-rs} port=${3:-25}
	_srv_ip "${2:-}"
	_srv_exim sink "$ns" "$SRVIP" "$port"
}
srv_smtp_sink_stop() { _srv_halt sink; }

# srv_mbox [NAME]: the mbox the sink (or NAME: smtp) delivers to.
srv_mbox() { echo "$SRV_TMP/${1:-sink}/mail/mbox"; }

# srv_mbox_wait REGEX TIMEOUT_MS [NAME]: wait until a delivered message has
# a line matching REGEX (grep -E).
srv_mbox_wait() { wait_until "$2" grep -qE "$1" "$(srv_mbox "${3:-sink}")"; }

# ----------------------------------------------- pop, pops, imap, imaps ---

srv_mail_start() {
	_srv_ip "${1:-}"
	srv_cert || return 1
	local d=$SRV_TMP/dovecot
	_srv_mkdir "$d/home/$SRV_USER"
	chown nobody:nogroup "$d/home/$SRV_USER"
	echo "$SRV_USER:{PLAIN}$SRV_PASS" > "$d/passwd"
	cat > "$d/dovecot.conf" <<-EOF
		protocols = imap pop3
		listen = $SRVIP
		base_dir = $d/run
		state_dir = $d/state
		instance_name = e2e
		log_path = /dev/stderr
		ssl = yes
		ssl_cert = <$SRV_TMP/tls/cert.pem
		ssl_key = <$SRV_TMP/tls/key.pem
		disable_plaintext_auth = no
		auth_mechanisms = plain login
		login_greeting = Dovecot e2e ready.
		default_login_user = dovenull
		default_internal_user = dovecot
		passdb {
		  driver = passwd-file
		  args = scheme=PLAIN $d/passwd
		}
		userdb {
		  driver = static
		  args = uid=nobody gid=nogroup home=$d/home/%u
		}
		mail_location = maildir:~/Maildir
		# Long-lived login and mail processes: the defaults start a new
		# process (exec, TLS set-up) for every connection, a second or more
		# under emulation, once per check.
		service imap-login {
		  service_count = 0
		  process_min_avail = 1
		  inet_listener imap {
		    port = 143
		  }
		  inet_listener imaps {
		    port = 993
		    ssl = yes
		  }
		}
		service pop3-login {
		  service_count = 0
		  process_min_avail = 1
		  inet_listener pop3 {
		    port = 110
		  }
		  inet_listener pop3s {
		    port = 995
		    ssl = yes
		  }
		}
		service imap {
		  service_count = 0
		  process_min_avail = 1
		}
		service pop3 {
		  service_count = 0
		  process_min_avail = 1
		}
	EOF
	_srv_run mail rs "tcp:110 tcp:995 tcp:143 tcp:993" dovecot -F -c "$d/dovecot.conf"
}
srv_mail_stop() { _srv_halt mail; }
# srv_mail_passwd PASS: change the user's password (dovecot re-reads the
# passwd-file when it changes).
srv_mail_passwd() {
	echo "$SRV_USER:{PLAIN}$1" > "$SRV_TMP/dovecot/passwd.new" &&
		mv "$SRV_TMP/dovecot/passwd.new" "$SRV_TMP/dovecot/passwd"
}

# --------------------------------------------------------------- nntp ---

# INN 2 with its own inn.conf ($INNCONF) and trees under $SRV_TMP/inn: the
# package's configuration, readers.conf letting 10/8 read, an empty active
# file and history from the package. innd is the server; a reader's
# connection is handed to nnrpd, which sends the greeting.
srv_nntp_start() {
	_srv_ip "${1:-}"
	local d=$SRV_TMP/inn
	if [ ! -d "$d/etc" ]; then
		_srv_mkdir "$d"/{run,log,tmp,spool,overview,incoming,outgoing,archive}
		cp -a /etc/news "$d/etc"
		cp -a /var/lib/news "$d/db"
		cat > "$d/etc/readers.conf" <<-EOF2
			auth "farm" {
			    hosts: "10.0.0.0/8, localhost, 127.0.0.1"
			    default: "<farm>"
			}
			access "farm" {
			    users: "<farm>"
			    newsgroups: "*"
			    access: RPA
			}
		EOF2
		sed -i -e '/^#\?\(path\(etc\|db\|run\|log\|tmp\|spool\|overview\|incoming\|outgoing\|archive\|http\)\|bindaddress\|domain\|pathhost\):/d' "$d/etc/inn.conf"
		cat >> "$d/etc/inn.conf" <<-EOF2
			domain:      $SRV_DOMAIN
			pathhost:    news.$SRV_DOMAIN
			bindaddress: $SRVIP
			pathetc:     $d/etc
			pathdb:      $d/db
			pathrun:     $d/run
			pathlog:     $d/log
			pathtmp:     $d/tmp
			pathspool:   $d/spool
			pathoverview: $d/overview
			pathincoming: $d/incoming
			pathoutgoing: $d/outgoing
			patharchive: $d/archive
			pathhttp:    $d/log
		EOF2
		chown -R news:news "$d"
	fi
	sed -i "s/^bindaddress:.*/bindaddress: $SRVIP/" "$d/etc/inn.conf"
	# INNCONF is how every INN program (innd, the nnrpd it runs) finds inn.conf.
	_srv_run nntp rs "tcp:119" env INNCONF="$d/etc/inn.conf" /usr/lib/news/bin/innd -f
}
# srv_nntp_ctl ARGS...: ctlinnd (throttle REASON, go REASON, shutdown REASON).
srv_nntp_ctl() { INNCONF=$SRV_TMP/inn/etc/inn.conf /usr/lib/news/bin/ctlinnd -s -t 10 "$@"; }
# innd takes SIGTERM only at its next timer tick; ctlinnd shutdown is at once.
srv_nntp_stop() {
	srv_nntp_ctl shutdown e2e-stop >/dev/null 2>&1
	_srv_halt nntp
}

# ---------------------------------------------------------------- ftp ---

# vsftpd: anonymous gets $SRV_FTP/anon, the local user $SRV_USER (a system
# account made here, in the VM's throw-away /etc) is chrooted to
# $SRV_FTP/home; both have test.txt.
srv_ftp_start() {
	_srv_ip "${1:-}"
	local d=$SRV_FTP
	_srv_mkdir "$d/anon" "$d/home" "$d/empty"
	chmod 755 "$d/anon" "$d/home" "$d/empty"
	echo "ftp anonymous ok" > "$d/anon/test.txt"
	echo "ftp $SRV_USER ok" > "$d/home/test.txt"
	if ! getent passwd "$SRV_USER" >/dev/null; then
		useradd -M -d "$d/home" -s /bin/sh "$SRV_USER" &&
			echo "$SRV_USER:$SRV_PASS" | chpasswd -c SHA512 ||
			{ log "srv ftp: cannot make user $SRV_USER"; return 1; }
	fi
	cat > "$d/vsftpd.conf" <<-EOF
		listen=YES
		listen_ipv6=NO
		listen_address=$SRVIP
		background=NO
		anonymous_enable=YES
		anon_root=$d/anon
		no_anon_password=YES
		local_enable=YES
		local_root=$d/home
		chroot_local_user=YES
		write_enable=NO
		secure_chroot_dir=$d/empty
		pam_service_name=vsftpd
		seccomp_sandbox=NO
		pasv_enable=YES
		pasv_min_port=30000
		pasv_max_port=30999
		xferlog_enable=NO
		dual_log_enable=NO
		syslog_enable=NO
		vsftpd_log_file=/dev/stderr
		log_ftp_protocol=NO
		ftpd_banner=vsftpd e2e ready
	EOF
	_srv_run ftp rs "tcp:21" vsftpd "$d/vsftpd.conf"
}
srv_ftp_stop() { _srv_halt ftp; }

# --------------------------------------------------------- ldap, ldaps ---

# The database is made at the first start and kept; slapd.conf is written
# at every start (the bind DN's password is $SRV_PASS then).
srv_ldap_start() {
	_srv_ip "${1:-}"
	srv_cert || return 1
	local d=$SRV_TMP/ldap
	_srv_mkdir "$d/db"
	cat > "$d/slapd.conf" <<-EOF
		include /etc/ldap/schema/core.schema
		pidfile $d/slapd.pid
		modulepath /usr/lib/ldap
		moduleload back_mdb
		TLSCertificateFile $SRV_TMP/tls/cert.pem
		TLSCertificateKeyFile $SRV_TMP/tls/key.pem
		database mdb
		maxsize 16777216
		suffix "$SRV_LDAP_BASE"
		rootdn "$SRV_LDAP_ADMIN"
		rootpw $SRV_PASS
		directory $d/db
	EOF
	if [ ! -e "$d/db/data.mdb" ]; then
		cat > "$d/base.ldif" <<-EOF
			dn: $SRV_LDAP_BASE
			objectClass: dcObject
			objectClass: organization
			o: e2e farm
			dc: e2e

			dn: ou=people,$SRV_LDAP_BASE
			objectClass: organizationalUnit
			ou: people
		EOF
		slapadd -q -f "$d/slapd.conf" -l "$d/base.ldif" > "$d/slapadd.log" 2>&1 ||
			{ log "srv ldap: slapadd failed"; tail -n 5 "$d/slapadd.log"; return 1; }
	fi
	_srv_run ldap rs "tcp:389 tcp:636" slapd -d 0 -f "$d/slapd.conf" -h "ldap://$SRVIP/ ldaps://$SRVIP/"
}
srv_ldap_stop() { _srv_halt ldap; }

# ---------------------------------------------------------------- sip ---

# SRV_SIP_REPLY="CODE REASON" srv_sip_start: OPTIONS is answered so instead
# of "200 OK".
srv_sip_start() {
	_srv_ip "${1:-}"
	local d=$SRV_TMP/sip reply=${SRV_SIP_REPLY:-200 OK} mods
	mods=$(ls -d /usr/lib/*/kamailio/modules 2>/dev/null | head -n 1)
	_srv_mkdir "$d/run"
	cat > "$d/kamailio.cfg" <<-EOF
		#!KAMAILIO
		debug=1
		log_stderror=yes
		fork=yes
		children=1
		tcp_children=1
		dns=no
		rev_dns=no
		listen=udp:$SRVIP:5060
		listen=tcp:$SRVIP:5060
		mpath="$mods/"
		loadmodule "sl.so"

		request_route {
		    if (method == "OPTIONS") {
		        sl_send_reply("${reply%% *}", "${reply#* }");
		        exit;
		    }
		    sl_send_reply("501", "Not Implemented");
		}
	EOF
	_srv_run sip rs "udp:5060 tcp:5060" kamailio -DD -E -f "$d/kamailio.cfg" -Y "$d/run" -m 32 -M 4
}
srv_sip_stop() { _srv_halt sip; }

# ------------------------------------------------------------- radius ---

srv_radius_start() {
	_srv_ip "${1:-}"
	local d=$SRV_TMP/radius
	_srv_mkdir "$d"
	cat > "$d/radiusd.conf" <<-EOF
		prefix = /usr
		exec_prefix = /usr
		sysconfdir = /etc
		localstatedir = /var
		sbindir = /usr/sbin
		logdir = $d
		raddbdir = $d
		radacctdir = $d
		name = freeradius
		confdir = $d
		modconfdir = $d
		run_dir = $d
		db_dir = $d
		libdir = /usr/lib/freeradius
		pidfile = $d/radiusd.pid
		max_request_time = 10
		cleanup_delay = 2
		max_requests = 1024
		hostname_lookups = no
		proxy_requests = no
		log {
		    destination = stderr
		    auth = yes
		}
		security {
		    allow_core_dumps = no
		    max_attributes = 200
		    reject_delay = 0
		    status_server = no
		}
		thread pool {
		    start_servers = 2
		    max_servers = 4
		    min_spare_servers = 1
		    max_spare_servers = 2
		}
		client farm {
		    ipaddr = 10.0.0.0/8
		    secret = $SRV_SECRET
		}
		modules {
		    pap {
		    }
		    files {
		        filename = $d/users
		    }
		}
		server default {
		    listen {
		        type = auth
		        ipaddr = $SRVIP
		        port = 1812
		    }
		    authorize {
		        files
		        pap
		    }
		    authenticate {
		        Auth-Type PAP {
		            pap
		        }
		    }
		}
	EOF
	printf '%s\tCleartext-Password := "%s"\n' "$SRV_USER" "$SRV_PASS" > "$d/users"
	: > "$d/dictionary"
	_srv_run radius rs "udp:1812" freeradius -f -d "$d" -l stdout
}
srv_radius_stop() { _srv_halt radius; }

# -------------------------------------------------------------- mysql ---

# srv_mysql_init: the data directory (mariadb-install-db, seconds under
# emulation: best done while no other database server is running). Kept
# across restarts; srv_mysql_start does it when it was not done.
# --init-file makes the database, the table with its row and the user
# (idempotent) at every start.
srv_mysql_init() {
	local d=$SRV_TMP/mysql
	if [ ! -d "$d/data/mysql" ]; then
		_srv_mkdir "$d/data"
		chown mysql:mysql "$d" "$d/data"
		cat > "$d/my.cnf" <<-EOF
			[mariadbd]
			user = mysql
			datadir = $d/data
			socket = $d/mysqld.sock
			pid-file = $d/mysqld.pid
			port = 3306
			skip-name-resolve
			skip-log-bin
			innodb-buffer-pool-size = 16M
			innodb-log-file-size = 4M
			key-buffer-size = 1M
			performance-schema = OFF
			init-file = $d/init.sql
		EOF
		cat > "$d/init.sql" <<-EOF
			CREATE DATABASE IF NOT EXISTS $SRV_DB;
			CREATE TABLE IF NOT EXISTS $SRV_DB.t (id INT PRIMARY KEY, name VARCHAR(32));
			INSERT IGNORE INTO $SRV_DB.t VALUES (1, 'one');
			CREATE USER IF NOT EXISTS '$SRV_USER'@'%' IDENTIFIED BY '$SRV_PASS';
			GRANT SELECT ON $SRV_DB.* TO '$SRV_USER'@'%';
		EOF
		local t0
		t0=$(now_ms)
		mariadb-install-db --defaults-file="$d/my.cnf" --skip-test-db \
			--auth-root-authentication-method=socket > "$d/install.log" 2>&1 ||
			{ log "srv mysql: mariadb-install-db failed"; tail -n 20 "$d/install.log"; return 1; }
		log "srv mysql: mariadb-install-db took $(($(now_ms) - t0)) ms"
	fi
}
srv_mysql_start() {
	_srv_ip "${1:-}"
	local d=$SRV_TMP/mysql
	srv_mysql_init || return 1
	_srv_run mysql rs "tcp:3306" mariadbd --defaults-file="$d/my.cnf" --bind-address="$SRVIP"
}
srv_mysql_stop() { _srv_halt mysql; }
# srv_mysql_sql SQL: run SQL as the server's root (local socket).
srv_mysql_sql() { mariadb --no-defaults -S "$SRV_TMP/mysql/mysqld.sock" -u root -e "$1"; }

# -------------------------------------------------------------- pgsql ---

# srv_pgsql_init: initdb (seconds under emulation: best done while no
# other database server is running), kept across restarts; srv_pgsql_start
# does it when it was not done, and at its first start makes the user, the
# database and the table. The postmaster runs as postgres.
_srv_pgbin() { SRV_PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1); }
_srv_as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
srv_pgsql_init() {
	local d=$SRV_TMP/pgsql t0
	_srv_pgbin
	[ -x "$SRV_PGBIN/postgres" ] || { log "srv pgsql: no postgres binary"; return 1; }
	[ -f "$d/data/PG_VERSION" ] && return 0
	_srv_mkdir "$d/data"
	chown -R postgres:postgres "$d"
	t0=$(now_ms)
	_srv_as_postgres "$SRV_PGBIN/initdb" -D "$d/data" -U postgres -A trust --auth-host=scram-sha-256 \
		--no-sync --no-instructions -E UTF8 --locale=C > "$d/initdb.log" 2>&1 ||
		{ log "srv pgsql: initdb failed"; tail -n 20 "$d/initdb.log"; return 1; }
	log "srv pgsql: initdb took $(($(now_ms) - t0)) ms"
	cat >> "$d/data/postgresql.conf" <<-EOF
		listen_addresses = '*'
		unix_socket_directories = '$d'
		shared_buffers = 16MB
		max_connections = 20
		fsync = off
		logging_collector = off
	EOF
	echo "host all all 10.0.0.0/8 scram-sha-256" >> "$d/data/pg_hba.conf"
	touch "$d/new"
}
srv_pgsql_start() {
	_srv_ip "${1:-}"
	local d=$SRV_TMP/pgsql
	srv_pgsql_init || return 1
	_srv_run pgsql rs "tcp:5432" setpriv --reuid=postgres --regid=postgres --init-groups \
		"$SRV_PGBIN/postgres" -D "$d/data" -c listen_addresses="$SRVIP" || return 1
	[ -e "$d/new" ] || return 0
	_srv_as_postgres "$SRV_PGBIN/psql" -qX -h "$d" -U postgres -v ON_ERROR_STOP=1 >/dev/null <<-EOF ||
		CREATE ROLE $SRV_USER LOGIN PASSWORD '$SRV_PASS';
		CREATE DATABASE $SRV_DB OWNER $SRV_USER;
		\\c $SRV_DB
		CREATE TABLE t (id int PRIMARY KEY, name text);
		INSERT INTO t VALUES (1, 'one');
		GRANT SELECT ON t TO $SRV_USER;
	EOF
		{ log "srv pgsql: creating the database failed"; return 1; }
	rm -f "$d/new"
}
srv_pgsql_stop() { _srv_halt pgsql; }
# srv_pgsql_sql SQL: run SQL in $SRV_DB as postgres (local socket).
srv_pgsql_sql() {
	_srv_pgbin
	_srv_as_postgres "$SRV_PGBIN/psql" -qX -h "$SRV_TMP/pgsql" -U postgres -d "$SRV_DB" \
		-v ON_ERROR_STOP=1 -c "$1"
}

# ---------------------------------------------------------- simpletcp ---

# srv_tcp_start [IP] [PORT] [LINE]: socat answers LINE to every TCP
# connection on PORT (what the client sends is read and ignored).
srv_tcp_start() {
	_srv_ip "${1:-}"
	local port=${2:-7777} line=${3:-$SRV_TCP_LINE}
	_srv_mkdir "$SRV_TMP"
	printf '%s\n' "$line" > "$SRV_TMP/tcp-line"
	_srv_run tcp rs "tcp:$port" socat -lf /dev/stderr TCP-LISTEN:"$port",bind="$SRVIP",reuseaddr,fork \
		SYSTEM:"cat $SRV_TMP/tcp-line"
}
srv_tcp_stop() { _srv_halt tcp; }

# ------------------------------------------- for the negotiate tests ---

# ld_run CFG: our ldirectord in the foreground (-d, log on stderr, kept as
# $E2E_TMP/ld.log) in namespace dir; bg_stop ld stops it.
ld_run() { bg_start ld ip netns exec dir "$BUILD/ldirectord" -d "$1" start; }

# expect_weight NAME SVC RIP:PORT WANT TIMEOUT_MS: assert that the real
# reaches weight WANT in time; on failure show what our ldirectord logged
# about it.
expect_weight() {
	local ms
	if ms=$(wait_weight "$2" "$3" "$4" "$5" 2>/dev/null); then
		pass "$1 (${ms} ms)"
	else
		fail "$1" "weight $(weight_of "$2" "$3") after ${ms} ms, want $4"
		grep -F "$3" "${E2E_TMP:-/tmp}/ld.log" 2>/dev/null | tail -n 4 | sed 's/^/          | /'
	fi
}

# srv_cycle NAME SVC RIP:PORT WEIGHT BREAK FIX: the real is up (WEIGHT);
# after the command BREAK it goes to 0, after FIX it is back.
srv_cycle() {
	local name=$1 svc=$2 rip=$3 w=$4 brk=$5 fix=$6
	expect_weight "$name: up" "$svc" "$rip" "$w" 20000
	eval "$brk" || fail "$name: $brk" "exit $?"
	expect_weight "$name: down after '$brk'" "$svc" "$rip" 0 15000
	eval "$fix" || fail "$name: $fix" "exit $?"
	expect_weight "$name: up again after '$fix'" "$svc" "$rip" "$w" 20000
}
