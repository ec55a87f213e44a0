# Harness smoke test: IPVS is there, a hand-made NAT service balances the
# client's requests over two nginx real servers.

check "ip_vs loaded" test -e /proc/net/ip_vs
farm_up 2
R1=$(rsip 1)
R2=$(rsip 2)
assert_eq "rsip 1" "$R1" 10.0.1.11
assert_eq "rsip 2" "$R2" 10.0.1.12

# The director reaches the reals directly (what health checks do).
assert_eq "health page of $R1" "$(in_dir curl -s -m 3 http://$R1/test.html)" ok

vip_add
check "add service" in_dir ipvsadm -A -t $VIP:80 -s rr
check "add real 1" in_dir ipvsadm -a -t $VIP:80 -r $R1:80 -m -w 1
check "add real 2" in_dir ipvsadm -a -t $VIP:80 -r $R2:80 -m -w 1
assert_eq "weight of real 1" "$(weight_of $VIP:80 $R1:80)" 1
assert_eq "weight of missing real" "$(weight_of $VIP:80 10.0.1.99:80)" absent

tally=$(cli_tally 6 http://$VIP/)
log "6 requests through the VIP:"
printf '%s\n' "$tally" | sed 's/^/      /'
check "rr: 3 answers from real 1" grep -qx "3 hello from $R1" <<<"$tally"
check "rr: 3 answers from real 2" grep -qx "3 hello from $R2" <<<"$tally"
check_not "no failed request" grep -q 'curl failed' <<<"$tally"

table=$(ipvs_table)
log "ipvs_table:"
printf '%s\n' "$table" | sed 's/^/      /'
check "table has real 1" grep -q -- "-r $R1:80 -m -w 1" <<<"$table"
check "table has real 2" grep -q -- "-r $R2:80 -m -w 1" <<<"$table"
check "dump shows both reals" eval "ipvs_dump | grep -q '$R1:80' && ipvs_dump | grep -q '$R2:80'"

# Weight changes are seen by wait_weight.
in_dir ipvsadm -e -t $VIP:80 -r $R2:80 -m -w 0
check "wait_weight sees weight 0" wait_weight $VIP:80 $R2:80 0 2000
assert_eq "cli_get after weight 0" "$(cli_get http://$VIP/)" "hello from $R1"
