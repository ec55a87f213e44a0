# Negotiate checks against real servers (4/4): mysql (mariadb) and pgsql
# (postgresql), each with a database, a table with one row and a user
# made at test time. Our ldirectord runs in the foreground with
# checkinterval=1 and quiescent=yes; every real goes to its weight, to 0
# when its server stops or the query returns no row, and back.
# e2e-timeout: 300

source "$(dirname "$0")/servers.sh"
srv_need mariadbd mariadb-install-db mariadb setpriv
_srv_pgbin
srv_need "${SRV_PGBIN:-postgresql}/initdb" "${SRV_PGBIN:-postgresql}/postgres"

CFG=$E2E_TMP/ld.cf
R1=$(rsip 1)

srv_reset
farm_up 1
vip_add
# Both data directories first: under emulation a running database server
# slows the other's initialisation severalfold.
srv_pgsql_init || die "initdb failed"
srv_mysql_init || die "mariadb-install-db failed"
srv_mysql_start || die "mariadb did not start"
srv_pgsql_start || die "postgresql did not start"

cat > "$CFG" <<EOF
checktimeout=3
negotiatetimeout=5
checkinterval=1
failurecount=1
quiescent=yes

virtual=$VIP:3306
	real=$R1:3306 masq 2
	service=mysql
	checktype=negotiate
	login="$SRV_USER"
	passwd="$SRV_PASS"
	database="$SRV_DB"
	request="SELECT name FROM t"
	scheduler=rr

virtual=$VIP:5432
	real=$R1:5432 masq 3
	service=pgsql
	checktype=negotiate
	login="$SRV_USER"
	passwd="$SRV_PASS"
	database="$SRV_DB"
	request="SELECT name FROM t"
	scheduler=rr
EOF

ld_run "$CFG"

test_mysql() {
	srv_cycle "mysql" $VIP:3306 $R1:3306 2 srv_mysql_stop srv_mysql_start
	srv_cycle "mysql, query returns no row" $VIP:3306 $R1:3306 2 \
		"srv_mysql_sql 'DELETE FROM $SRV_DB.t'" "srv_mysql_sql \"INSERT INTO $SRV_DB.t VALUES (1, 'one')\""
}

test_pgsql() {
	srv_cycle "pgsql" $VIP:5432 $R1:5432 3 srv_pgsql_stop srv_pgsql_start
	srv_cycle "pgsql, query returns no row" $VIP:5432 $R1:5432 3 \
		"srv_pgsql_sql 'DELETE FROM t'" "srv_pgsql_sql \"INSERT INTO t VALUES (1, 'one')\""
}
