#!/usr/bin/env bash
# Bring the interop lab up inside network namespace $MXLAB_NS (default mxlab). Idempotent: any
# previous lab is torn down first. No systemd; each daemon gets its own config under $MXLAB_RUN.
# Needs root and `bash tests/lab/install.sh` once. Nothing in the namespaces can reach outside them:
# the lab's interfaces are lo and veth pairs to the prober namespaces ($MXLAB_NAT_NS, $MXLAB_REJ_NS,
# $MXLAB_DROP_NS), whose only link is that veth; DNS recursion starts at the lab's own fake root.
#
#   bash tests/lab/up.sh && ip netns exec mxlab <client> ... && bash tests/lab/down.sh
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=env.sh
. "$HERE/env.sh"
[ "$(id -u)" = 0 ] || { echo "up.sh: must run as root" >&2; exit 1; }
T0=$(date +%s%N)
"$HERE/down.sh" >/dev/null 2>&1 || true

R=$MXLAB_RUN; X=$MXLAB_EXTRACT/usr/sbin; T=$R/tls
[ -x "$X/exim4" ] && [ -x "$X/smtpd" ] && command -v knotd >/dev/null ||
  { echo "up.sh: run tests/lab/install.sh first" >&2; exit 1; }
mkdir -p "$R"/{pids,logs,tls}; chmod 755 "$R" "$R/logs" "$T"
# If anything below fails, leave nothing half-started behind.
trap 'rc=$?; [ $rc = 0 ] || { lablog "up failed (rc=$rc), logs in $R/logs"; LAB_KEEP_LOGS=1 "$HERE/down.sh" >/dev/null 2>&1; }' EXIT

# ------------------------------------------------------------------ namespace
ip netns add "$MXLAB_NS"
ip -n "$MXLAB_NS" link set lo up
for o in $MXLAB_V4_OCTETS; do ip -n "$MXLAB_NS" addr add "127.0.0.$o/32" dev lo; done
for a in $MXLAB_WAN_ADDRS; do ip -n "$MXLAB_NS" addr add "$a/32" dev lo; done
# A connection to a local address normally comes from that same address, so every server would
# see itself as the client. Give each lab address's local route the prober's address as preferred
# source: clients inside mxlab (mailcheck, check.py) then connect from 127.0.0.9 = probe.test,
# whose A and PTR agree and which no blocklist lists -- a good identity.
for o in $MXLAB_V4_OCTETS; do
  [ "127.0.0.$o" = "$MXLAB_PROBER" ] && continue
  ip -n "$MXLAB_NS" route replace table local local "127.0.0.$o" dev lo proto kernel scope host src "$MXLAB_PROBER"
done
$NX sysctl -qw net.ipv6.conf.lo.disable_ipv6=0 2>/dev/null || true
mkdir -p "/etc/netns/$MXLAB_NS"
echo "nameserver $MXLAB_RESOLVER" > "/etc/netns/$MXLAB_NS/resolv.conf"
printf '127.0.0.1 localhost\n::1 localhost\n' > "/etc/netns/$MXLAB_NS/hosts"

# Prober namespaces, each linked to mxlab by a veth pair (mxlab end: v-NAME; their end: wan0)
# and routed to the wan addresses (198.18.25.0/24) only. IPv6 is off on the veths.
prober_ns() {  # NS MXLAB-END-ADDR THEIR-ADDR (both /24)
  local ns=$1 v=v-${1#mx}
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  ip link add "$v" netns "$MXLAB_NS" type veth peer name wan0 netns "$ns"
  ip netns exec "$MXLAB_NS" sysctl -qw "net.ipv6.conf.$v.disable_ipv6=1"
  ip netns exec "$ns" sysctl -qw net.ipv6.conf.wan0.disable_ipv6=1
  ip -n "$MXLAB_NS" addr add "$2/24" dev "$v"; ip -n "$MXLAB_NS" link set "$v" up
  ip -n "$ns" addr add "$3/24" dev wan0; ip -n "$ns" link set wan0 up
  ip -n "$ns" route add 198.18.25.0/24 via "$2"
  mkdir -p "/etc/netns/$ns"
  echo "nameserver $MXLAB_WAN_RESOLVER" > "/etc/netns/$ns/resolv.conf"
  printf '127.0.0.1 localhost\n::1 localhost\n' > "/etc/netns/$ns/hosts"
}
# mxnat: the prober has a private address; mxlab (its "ISP") source-NATs everything arriving on
# the veth to $MXLAB_NAT_PUBLIC, so servers see only that address (the route lets replies out).
prober_ns "$MXLAB_NAT_NS" "$MXLAB_NAT_GW" "$MXLAB_NAT_INSIDE"
ip -n "$MXLAB_NS" route add "$MXLAB_NAT_PUBLIC/32" dev "v-${MXLAB_NAT_NS#mx}"
$NX nft -f - <<EOF
table ip mxlab-nat {
  chain input {
    type nat hook input priority 100; policy accept;
    iifname "v-${MXLAB_NAT_NS#mx}" snat to $MXLAB_NAT_PUBLIC comment "mxnat is behind NAT"
  }
}
EOF
# mxrej / mxdrop: outbound port 25 blocked by the prober host's own firewall, as ufw or a cloud
# provider does: REJECT (TCP reset) or DROP. DNS and everything else works.
prober_ns "$MXLAB_REJ_NS" "$MXLAB_REJ_GW" "$MXLAB_REJ_ADDR"
ip netns exec "$MXLAB_REJ_NS" nft -f - <<EOF
table inet egress {
  chain output {
    type filter hook output priority 0; policy accept;
    tcp dport 25 reject with tcp reset comment "outbound SMTP blocked (reject)"
  }
}
EOF
prober_ns "$MXLAB_DROP_NS" "$MXLAB_DROP_GW" "$MXLAB_DROP_ADDR"
ip netns exec "$MXLAB_DROP_NS" nft -f - <<EOF
table inet egress {
  chain output {
    type filter hook output priority 0; policy accept;
    tcp dport 25 drop comment "outbound SMTP blocked (drop)"
  }
}
EOF

# Filtered port: SYNs to 127.0.0.30:25 vanish (connect times out). Only in this namespace.
$NX nft -f - <<EOF
table inet mxlab {
  chain input {
    type filter hook input priority 0; policy accept;
    ip daddr $MXLAB_FILTERED tcp dport 25 drop comment "filtered.test: SYN dropped"
  }
}
EOF

# ------------------------------------------------------------------ TLS (lab CA, P-256)
# Clients trust it with --ca-file $MXLAB_CA. Keep the SAN lists short: a big certificate
# slows every loopback handshake (Nagle / delayed ACK on the larger server flight).
EC=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${EC[@]}" -days 3650 -subj "/CN=mailcheck lab CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -keyout "$T/ca-key.pem" -out "$T/ca.pem" 2>/dev/null
leaf() {  # NAME CN SAN-LIST -> $T/NAME.pem (leaf + CA chain), $T/NAME-key.pem
  local n=$1 ext="$T/$1.ext"
  printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$3" > "$ext"
  openssl req "${EC[@]}" -subj "/CN=$2" -keyout "$T/$n-key.pem" -out "$T/$n.csr" 2>/dev/null
  openssl x509 -req -in "$T/$n.csr" -CA "$T/ca.pem" -CAkey "$T/ca-key.pem" -CAcreateserial \
    -days 825 -sha256 -extfile "$ext" -out "$T/$n.pem" 2>/dev/null
  cat "$T/ca.pem" >> "$T/$n.pem"
}
# every MX host name whose scenario expects a valid certificate
leaf good mx1.good.test "DNS:mx1.good.test,DNS:implicit.test,DNS:mail.cname-mx.test,DNS:mx.listed.test,DNS:mx.v6only.test,DNS:mx.bannerlie.test,DNS:mx.mailrej.test,DNS:mx.exim.test,DNS:mx.greetpause.test,DNS:mx.tlsfail.test,DNS:mx.senderverify.test,DNS:mx.relaydefer.test,DNS:mx.postscreen.test,DNS:mx.exo.test,DNS:mx.policylisted.test,DNS:mx.senderrej.test,DNS:mx.relayrcpt.test,DNS:mx.wan.test,DNS:mx.natexim.test,DNS:mx.natpostfix.test,DNS:mx.danegood.test,DNS:mx.danewrong.test,DNS:mx.danenosig.test,DNS:mx.bogus.test"
leaf wrong wrong-name.invalid "DNS:wrong-name.invalid"
# self-signed (no CA): mx.daneself.test, trusted only through its DANE-EE TLSA record
openssl req -x509 "${EC[@]}" -days 825 -subj "/CN=mx.daneself.test" \
  -addext "subjectAltName=DNS:mx.daneself.test" -keyout "$T/self-key.pem" -out "$T/self.pem" 2>/dev/null
chmod 644 "$T"/*.pem
chmod 600 "$T"/ca-key.pem
install -m 600 "$T/good-key.pem" "$T/good-key-smtpd.pem"                       # OpenSMTPD: <= 0640
install -m 600 -o Debian-exim "$T/good-key.pem" "$T/good-key-exim.pem"         # read after privilege drop

# ------------------------------------------------------------------ DNS: Knot, rbldnsd, Unbound
"$HERE/gen-zones.sh" "$R/zones"
# DANE: TLSA 3 1 1 = SHA-256 of the SubjectPublicKeyInfo of the certificate the MX serves
spki_sha256() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1; }
sed -i -e "s/TLSA_GOOD/$(spki_sha256 "$T/good.pem")/" -e "s/TLSA_SELF/$(spki_sha256 "$T/self.pem")/" "$R"/zones/*.zone
mkdir -p "$R/knot/db" "$R/dnssec"
cat > "$R/knot/knot.conf" <<EOF
server:
    listen: [ $MXLAB_AUTH@53, 127.0.0.1@5353 ]
    rundir: "$R/knot"
    pidfile: "$R/pids/knot.pid"
    background-workers: 1
    udp-workers: 2
    tcp-workers: 1
log:
  - target: $R/logs/knot.log
    any: info
database:
    storage: "$R/knot/db"
    kasp-db: "$R/knot/keys"
policy:
  - id: lab
    algorithm: ecdsap256sha256
    manual: on
    single-type-signing: on
    nsec3: off
    dnskey-ttl: 300
    zone-max-ttl: 300
    rrsig-lifetime: 30d
    rrsig-refresh: 7d
template:
  - id: default
    storage: "$R/zones"
    zonefile-sync: -1
    journal-content: none
    semantic-checks: off
zone:
$(cat "$R/zones/knot-zones.conf")
EOF
# DNSSEC: one key (CSK, P-256) per signed zone, made here so that the parents' DS records and the
# lab root's DNSKEY (the trust anchor of Unbound and of mailcheck --trust-anchor) are known before
# Knot loads the zones. A zone in bogus-zones.txt gets a DS whose digest matches no key.
while read -r z; do
  keymgr -c "$R/knot/knot.conf" "$z" generate algorithm=ecdsap256sha256 ksk=yes zsk=yes >/dev/null
  ds=$(keymgr -c "$R/knot/knot.conf" "$z" ds | awk '$2 == "DS" && $5 == 2')
  [ -n "$ds" ] || { lablog "keymgr gave no DS for $z"; exit 1; }
  grep -qx "$z" "$R/zones/bogus-zones.txt" && ds=$(awk '{ $6 = "0000000000000000000000000000000000000000000000000000000000000000"; print }' <<<"$ds")
  case $z in
    .) keymgr -c "$R/knot/knot.conf" . dnskey | awk '$2 == "DNSKEY" { $1 = $1 " 3600 IN"; print }' > "$MXLAB_TRUST_ANCHOR" ;;
    test.) echo "$ds" >> "$R/zones/root.zone" ;;
    *) echo "$ds" >> "$R/zones/delegations.inc" ;;
  esac
done < "$R/zones/signed-zones.txt"
grep -q DNSKEY "$MXLAB_TRUST_ANCHOR" || { lablog "no root DNSKEY for $MXLAB_TRUST_ANCHOR"; exit 1; }
chmod -R a+rX "$R/zones" "$R/dnssec"
$NX knotd -c "$R/knot/knot.conf" -d

# ------------------------------------------------------------------ nginx: MTA-STS policies (HTTPS)
# gen-zones.sh wrote one policy per domain under zones/mta-sts/mta-sts.<domain>/; one certificate
# covers every mta-sts.<domain> name; 127.0.0.41 serves the wrong-name certificate.
leaf mtasts "$(head -n1 "$R/zones/mta-sts-hosts.txt")" "$(sed 's/^/DNS:/' "$R/zones/mta-sts-hosts.txt" | paste -sd,)"
chmod 644 "$T"/mtasts*.pem
N=$R/nginx; mkdir -p "$N/tmp"
cat > "$N/nginx.conf" <<EOF
worker_processes 1;
pid $R/pids/nginx.pid;
error_log $R/logs/nginx-error.log warn;
events { worker_connections 64; }
http {
    access_log $R/logs/nginx-access.log;
    client_body_temp_path $N/tmp/body;
    proxy_temp_path $N/tmp/proxy;
    default_type text/plain;
    server {
        listen $MXLAB_MTASTS:443 ssl;
        listen $MXLAB_WAN_MTASTS:443 ssl;
        ssl_certificate $T/mtasts.pem;
        ssl_certificate_key $T/mtasts-key.pem;
        root $R/zones/mta-sts/\$host;
    }
    server {
        listen $MXLAB_MTASTS_WRONG:443 ssl;
        ssl_certificate $T/wrong.pem;
        ssl_certificate_key $T/wrong-key.pem;
        root $R/zones/mta-sts/\$host;
    }
}
EOF
$NX nginx -p "$N" -e "$R/logs/nginx-error.log" -c "$N/nginx.conf"

# rbldnsd: UDP only, refuses to run as root, so -u rbldns and a readable data dir.
$NX rbldnsd -u rbldns -w "$R/zones" -b "$MXLAB_RBL/53" -p "$R/pids/rbldnsd.pid" -t 300 -c 60 \
  "$MXLAB_DNSBL_ZONE:ip4set:bl4.txt" "$MXLAB_DNSBL_ZONE:ip6trie:bl6.txt" \
  "$MXLAB_ZEN_ZONE:ip4set:zen4.txt" "$MXLAB_ZEN_ZONE:ip6trie:zen6.txt" >"$R/logs/rbldnsd.log" 2>&1

mkdir -p "$R/unbound"
printf '.  3600000  NS  ns1.test.\nns1.test.  3600000  A  %s\n' "$MXLAB_AUTH" > "$R/unbound/root.hints"
cat > "$R/unbound/unbound.conf" <<EOF
server:
    interface: $MXLAB_RESOLVER
    interface: $MXLAB_WAN_RESOLVER
    port: 53
    do-ip6: no
    username: ""
    chroot: ""
    directory: "$R/unbound"
    pidfile: "$R/pids/unbound.pid"
    logfile: "$R/logs/unbound.log"
    use-syslog: no
    verbosity: 1
    num-threads: 1
    so-reuseport: no
    access-control: 127.0.0.0/8 allow
    access-control: ::1 allow
    access-control: 198.18.0.0/15 allow
    do-not-query-localhost: no
    root-hints: "$R/unbound/root.hints"
    module-config: "validator iterator"
    # validate from the lab root's key (Knot signs ., test. and the dane*/bogus zones)
    trust-anchor-file: "$MXLAB_TRUST_ANCHOR"
    val-log-level: 2
    qname-minimisation: no
    harden-referral-path: no
    # built-in local zones that would hide the lab's data
    local-zone: "test." nodefault
    local-zone: "127.in-addr.arpa." nodefault
    local-zone: "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa." nodefault
    # answers stay fresh (tests may edit zones with knotc); TTLs seen through Unbound are <= 1
    cache-max-ttl: 1
    cache-max-negative-ttl: 1
    # Debian's 1.17.1-2+deb12u4 backports discard-timeout (1900 ms): slow recursions would get no
    # reply at all instead of a late answer or SERVFAIL. Turn it off.
    discard-timeout: 0
remote-control:
    control-enable: yes
    control-interface: "$R/unbound/control.sock"
    control-use-cert: no
EOF
$NX unbound -c "$R/unbound/unbound.conf"
# A second Unbound that does not validate (as many resolvers still do not): with it, a bogus zone's
# records come back, so mailcheck's own validator is what must notice (bogus.test row).
sed -e "/^    interface: /d" -e "s|^server:|server:\n    interface: $MXLAB_RESOLVER_NOVAL|" \
    -e 's|module-config: "validator iterator"|module-config: "iterator"|' -e '/trust-anchor-file:/d' \
    -e "s|$R/pids/unbound.pid|$R/pids/unbound-noval.pid|" -e "s|$R/logs/unbound.log|$R/logs/unbound-noval.log|" \
    -e "s|$R/unbound/control.sock|$R/unbound/control-noval.sock|" "$R/unbound/unbound.conf" > "$R/unbound/unbound-noval.conf"
$NX unbound -c "$R/unbound/unbound-noval.conf"

# ------------------------------------------------------------------ Postfix A and B
pf_master() {  # the services a Postfix instance needs; smtpd lines come from the caller
  cat
  cat <<'EOF'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}
# pf_instance NAME "DOMAINS" MASTER-SMTPD-LINES; extra main.cf lines on stdin.
# alice@ and postmaster@ exist in every DOMAIN; accepted mail is discarded.
pf_instance() {
  local d="$R/postfix-$1" dom
  mkdir -p "$d/etc" "$d/spool" "$d/data"; chown postfix "$d/data"
  printf '%s\n' "$3" | pf_master > "$d/etc/master.cf"
  { cat <<EOF
compatibility_level = 3.6
queue_directory = $d/spool
data_directory = $d/data
maillog_file_prefixes = /run, /tmp
maillog_file = $R/logs/postfix-$1.log
mynetworks = 127.0.0.254/32
mydestination =
alias_maps =
alias_database =
virtual_mailbox_domains = $2
virtual_mailbox_maps = texthash:$d/etc/vmailbox
virtual_transport = discard:
default_transport = error:the lab never relays
smtp_dns_support_level = disabled
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_tls_security_level = may
smtpd_tls_cert_file = $T/good.pem
smtpd_tls_key_file = $T/good-key.pem
smtpd_tls_loglevel = 1
EOF
    cat; } > "$d/etc/main.cf"
  for dom in $2; do printf 'alice@%s x\npostmaster@%s x\n' "$dom" "$dom"; done > "$d/etc/vmailbox"
  # Postfix logs startup errors to syslog when stderr is not a TTY: show them via script(1).
  $NX postfix -c "$d/etc" start >/dev/null 2>&1 ||
    { script -qc "$NX postfix -c $d/etc start" /dev/null >&2; return 1; }
}
# A: the well-behaved one. banner = PTR = A name on each address.
# postscreen (127.0.0.23) runs its pregreet test with the default 6 s greet wait, then hands the
# client to smtpd; no cache, so every connection waits (a cached PASS would skip the test).
pf_instance a "good.test implicit.test cname-mx.test multi.test listed.test v6only.test policylisted.test postscreen.test dnsblfail.test wan.test stsgood.test stsmismatch.test stswrongcert.test danegood.test danewrong.test danenosig.test daneself.test bogus.test" "\
$MXLAB_PF_GOOD:smtp   inet n - n - - smtpd
$MXLAB_PF_LISTED:smtp inet n - n - - smtpd -o myhostname=mx.listed.test
[$MXLAB_PF_V6]:smtp    inet n - n - - smtpd -o myhostname=mx.v6only.test
$MXLAB_PF_POLICYLISTED:smtp inet n - n - - smtpd -o myhostname=mx.policylisted.test
$MXLAB_PF_DANESELF:smtp inet n - n - - smtpd -o myhostname=mx.daneself.test -o smtpd_tls_cert_file=\$self_cert -o smtpd_tls_key_file=\$self_key
$MXLAB_PF_POSTSCREEN:smtp inet n - n - 1 postscreen -o myhostname=mx.postscreen.test
smtpd     pass  -       -       n       -       -       smtpd -o myhostname=mx.postscreen.test
dnsblog   unix  -       -       n       -       0       dnsblog
tlsproxy  unix  -       -       n       -       0       tlsproxy
$MXLAB_WAN_GOOD:smtp  inet n - n - - smtpd -o myhostname=mx.wan.test" <<EOF &
myhostname = mx1.good.test
inet_interfaces = $MXLAB_PF_GOOD, $MXLAB_PF_LISTED, [$MXLAB_PF_V6], $MXLAB_PF_POLICYLISTED, $MXLAB_PF_POSTSCREEN, $MXLAB_WAN_GOOD, $MXLAB_PF_DANESELF
self_cert = $T/self.pem
self_key = $T/self-key.pem
inet_protocols = all
postscreen_greet_action = enforce
postscreen_cache_map =
EOF
PF_A=$!
# B: one fault per address, set with master.cf -o overrides.
# relaydefer: Postfix's stock relay restrictions (454 4.7.1 Relay access denied; the prober is not
# in mynetworks). exo, natpostfix: exact reply texts from lab-milter.py. senderrej: stock
# reject_unknown_sender_domain (checked at RCPT, smtpd_delay_reject), with the 550 many sites set.
# relayrcpt: a relay domain (a backup MX or gateway) whose relay_recipient_maps lacks postmaster@:
# "User unknown in relay recipient table".
mkdir -p "$R/postfix-b/etc"; echo "alice@relayrcpt.test x" > "$R/postfix-b/etc/relay-recipients"
pf_instance b "bannerlie.test wrongcert.test mailrej.test exo.test senderrej.test natpostfix.test" "\
$MXLAB_PF_BANNERLIE:smtp inet n - n - - smtpd -o myhostname=mx.bannerlie.test -o smtpd_banner=\$lying_banner
$MXLAB_PF_WRONGCERT:smtp inet n - n - - smtpd -o myhostname=mx.wrongcert.test -o smtpd_tls_cert_file=\$wrong_cert -o smtpd_tls_key_file=\$wrong_key
$MXLAB_PF_MAILREJ:smtp   inet n - n - - smtpd -o myhostname=mx.mailrej.test -o smtpd_delay_reject=no -o smtpd_sender_restrictions=reject
$MXLAB_PF_RELAYDEFER:smtp inet n - n - - smtpd -o myhostname=mx.relaydefer.test -o smtpd_relay_restrictions=\$stock_relay_restrictions
$MXLAB_PF_EXO:smtp       inet n - n - - smtpd -o myhostname=mx.exo.test -o smtpd_milters=\$lab_milter
$MXLAB_PF_SENDERREJ:smtp inet n - n - - smtpd -o myhostname=mx.senderrej.test -o smtpd_sender_restrictions=reject_unknown_sender_domain -o unknown_address_reject_code=550
$MXLAB_PF_RELAYRCPT:smtp inet n - n - - smtpd -o myhostname=mx.relayrcpt.test
$MXLAB_WAN_PF:smtp       inet n - n - - smtpd -o myhostname=mx.natpostfix.test -o smtpd_milters=\$lab_milter" <<EOF &
myhostname = mx.bannerlie.test
inet_interfaces = $MXLAB_PF_BANNERLIE, $MXLAB_PF_WRONGCERT, $MXLAB_PF_MAILREJ, $MXLAB_PF_RELAYDEFER, $MXLAB_PF_EXO, $MXLAB_PF_SENDERREJ, $MXLAB_PF_RELAYRCPT, $MXLAB_WAN_PF
relay_domains = relayrcpt.test
relay_recipient_maps = texthash:$R/postfix-b/etc/relay-recipients
inet_protocols = ipv4
lying_banner = mx1.good.test ESMTP Postfix
wrong_cert = $T/wrong.pem
wrong_key = $T/wrong-key.pem
smtpd_helo_required = yes
stock_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination
lab_milter = inet:$MXLAB_MILTER
milter_connect_macros = j {daemon_name} {daemon_addr} v _
EOF
PF_B=$!

# ------------------------------------------------------------------ Exim (unpacked .deb)
# One daemon, several personalities chosen by the local address (host name and RCPT ACL from the
# lsearch files below). No queue runner (-q) and every accepted message is discarded in the DATA
# ACL: Exim would re-exec /usr/sbin/exim4 to deliver, and that path does not exist here. The
# dnslookup router is only there so that `verify = sender` can route remote sender domains.
E=$R/exim; mkdir -p "$E/spool" "$E/log"; chown -R Debian-exim:Debian-exim "$E"
cat > "$E/hostnames" <<EOF
$MXLAB_EXIM_GREETPAUSE: mx.greetpause.test
$MXLAB_EXIM_SENDERVERIFY: mx.senderverify.test
$MXLAB_WAN_EXIM: mx.natexim.test
EOF
cat > "$E/rcpt-acls" <<EOF
$MXLAB_EXIM_SENDERVERIFY: acl_rcpt_verify
$MXLAB_WAN_EXIM: acl_rcpt_nat
EOF
cat > "$E/exim.conf" <<EOF
primary_hostname = mx.exim.test
smtp_active_hostname = \${lookup{\$received_ip_address}lsearch{$E/hostnames}{\$value}{mx.exim.test}}
spool_directory = $E/spool
log_file_path = $E/log/%slog
pid_file_path = $R/pids/exim.pid
local_interfaces = $MXLAB_EXIM : $MXLAB_EXIM_GREETPAUSE : $MXLAB_EXIM_SENDERVERIFY : $MXLAB_WAN_EXIM
daemon_smtp_ports = 25
smtp_banner = \$smtp_active_hostname ESMTP Exim \$version_number \$tod_full
domainlist local_domains = exim.test : nopostmaster.test : tempfail.test : greylist.test : greyfilter.test : greetpause.test : senderverify.test : natexim.test
host_lookup =
rfc1413_hosts =
keep_environment =
tls_advertise_hosts = *
tls_certificate = $T/good.pem
tls_privatekey = $T/good-key-exim.pem
acl_smtp_connect = acl_connect
acl_smtp_rcpt = \${lookup{\$received_ip_address}lsearch{$E/rcpt-acls}{\$value}{acl_rcpt}}
acl_smtp_data = acl_data
begin acl
acl_connect:
  # greet-pause: hold the banner on the greetpause address
  accept  condition = \${if eq{\$received_ip_address}{$MXLAB_EXIM_GREETPAUSE}}
          delay = ${MXLAB_GREET_PAUSE}s
  accept
acl_rcpt:
  deny    !domains = +local_domains
          message = 550 5.7.1 relay not permitted
  defer   domains = greylist.test : greyfilter.test
          message = 451 4.7.1 greylisted, please try again later
  defer   domains = tempfail.test
          message = 452 4.3.1 Insufficient system storage
  deny    !verify = recipient
          message = 550 5.1.1 unknown user
  accept
# mx.senderverify.test: the RCPT checks of Exim's stock configuration (src/configure.default)
acl_rcpt_verify:
  require message = relay not permitted
          domains = +local_domains
  require verify = sender
  require verify = recipient
  accept
# mx.natexim.test: refuses every recipient with a text that names only the client's IP
acl_rcpt_nat:
  deny    message = \$sender_host_address is not welcome here
acl_data:
  discard
begin routers
mailboxes:
  driver = redirect
  domains = exim.test : tempfail.test : greylist.test : greyfilter.test : greetpause.test : senderverify.test : natexim.test
  local_parts = alice : postmaster
  data = :blackhole:
no_postmaster:
  driver = redirect
  domains = nopostmaster.test
  local_parts = alice
  data = :blackhole:
remote:
  driver = dnslookup
  domains = ! +local_domains
  transport = remote_smtp
  no_more
begin transports
remote_smtp:
  driver = smtp
EOF
$NX "$X/exim4" -C "$E/exim.conf" -bd

# ------------------------------------------------------------------ milter for Postfix B
setsid $NX /usr/bin/python3 "$HERE/lab-milter.py" "inet:${MXLAB_MILTER#*:}@${MXLAB_MILTER%:*}" \
  >"$R/logs/milter.log" 2>&1 </dev/null &
echo $! > "$R/pids/milter.pid"

# ------------------------------------------------------------------ OpenSMTPD (unpacked .deb)
# Spool (/var/spool/smtpd) and control socket paths are compiled in: one instance per mount
# namespace, so it gets a private tmpfs over the spool. STARTTLS on Debian 12's 6.8.0p2 fails
# its handshake (OpenSSL 3 vs privsep signing): that is the tlsfail.test scenario.
O=$R/opensmtpd; mkdir -p "$O"
cat > "$O/smtpd.conf" <<EOF
pki mx.tlsfail.test cert "$T/good.pem"
pki mx.tlsfail.test key "$T/good-key-smtpd.pem"
table rcpts { "alice@notls.test", "postmaster@notls.test", "alice@tlsfail.test", "postmaster@tlsfail.test" }
table vusers { "alice@notls.test" = "nobody", "postmaster@notls.test" = "nobody", "alice@tlsfail.test" = "nobody", "postmaster@tlsfail.test" = "nobody" }
listen on $MXLAB_SMTPD_NOTLS port 25 hostname mx.notls.test
listen on $MXLAB_SMTPD_TLSFAIL port 25 hostname mx.tlsfail.test tls pki mx.tlsfail.test
action "discard" mda "/bin/cat >/dev/null" virtual <vusers>
match from any for rcpt-to <rcpts> action "discard"
EOF
chmod 644 "$O/smtpd.conf"
setsid $NX unshare -m --propagation private sh -c \
  "mount -t tmpfs -o mode=711 tmpfs /var/spool/smtpd && exec $X/smtpd -d -f $O/smtpd.conf" \
  >"$R/logs/opensmtpd.log" 2>&1 </dev/null &
echo $! > "$R/pids/opensmtpd.pid"

# ------------------------------------------------------------------ smtp-sink (scripted faults)
sink() {  # ADDR NAME OPTIONS...
  local a=$1 n=$2; shift 2
  setsid $NX smtp-sink -u nobody -h "$n" "$@" "$a:25" 64 >"$R/logs/sink-$n.log" 2>&1 </dev/null &
  echo $! > "$R/pids/sink-$n.pid"
}
sink "$MXLAB_SINK_BUSY" mx.busy.test -Q CONNECT          # 421 instead of 220, then hang up
sink "$MXLAB_SINK_DROPMAIL" mx.dropmail.test -q MAIL     # hang up, without a reply, after MAIL FROM

# ------------------------------------------------------------------ PostgreSQL (run history)
# A throwaway cluster in $R/pg, run as the postgres user, listening only on $MXLAB_PG in the lab.
[ -x "$MXLAB_PGBIN/postgres" ] || { echo "up.sh: PostgreSQL is not installed (run tests/lab/install.sh)" >&2; exit 1; }
PG=$R/pg; mkdir -p "$PG"; chown postgres:postgres "$PG"; chmod 700 "$PG"
(cd "$PG" && as_postgres "$MXLAB_PGBIN/initdb" -D "$PG/data" -U mailcheck --auth=trust -E UTF8 --no-locale) \
  >"$R/logs/pg-initdb.log" 2>&1 || { lablog "initdb failed"; exit 1; }
# Clients in the lab connect from the prober's address (127.0.0.9), not 127.0.0.1.
echo "host all all 127.0.0.0/8 trust" >> "$PG/data/pg_hba.conf"
(cd "$PG" && exec setsid $NX setpriv --reuid=postgres --regid=postgres --init-groups \
  "$MXLAB_PGBIN/postgres" -D "$PG/data" -k "$PG" -h "$MXLAB_PG" -p "$MXLAB_PG_PORT") \
  >"$R/logs/postgres.log" 2>&1 </dev/null &
echo $! > "$R/pids/postgres.pid"

# ------------------------------------------------------------------ readiness
wait_dns "$MXLAB_AUTH" good.test MX 'status: NOERROR'
wait_dns "$MXLAB_RBL" 2.0.0.127.bl.test A 'status: NOERROR'
wait_dns "$MXLAB_RESOLVER" 10.0.0.127.in-addr.arpa PTR 'mx1\.good\.test'
wait_dns "$MXLAB_WAN_RESOLVER" 2.9.18.198.in-addr.arpa PTR 'nat\.probe\.test'
wait_dns "$MXLAB_RESOLVER_NOVAL" bogus.test MX 'status: NOERROR'
wait "$PF_A" || { lablog "postfix a failed to start"; exit 1; }
wait "$PF_B" || { lablog "postfix b failed to start"; exit 1; }
# Postfix B asks the milter at every connection: it must be up before the banners are checked.
$NX /usr/bin/python3 -c 'import socket,sys,time
h,p=sys.argv[1].rsplit(":",1)
for _ in range(100):
    try: socket.create_connection((h,int(p)),1).close(); sys.exit(0)
    except OSError: time.sleep(0.05)
sys.exit(1)' "$MXLAB_MILTER" || { lablog "lab-milter.py did not start"; exit 1; }
for a in "$MXLAB_PF_GOOD" "$MXLAB_PF_LISTED" "$MXLAB_PF_BANNERLIE" "$MXLAB_PF_WRONGCERT" \
         "$MXLAB_PF_MAILREJ" "$MXLAB_EXIM" "$MXLAB_SMTPD_NOTLS" "$MXLAB_SMTPD_TLSFAIL" \
         "$MXLAB_SINK_BUSY" "$MXLAB_SINK_DROPMAIL" "$MXLAB_EXIM_SENDERVERIFY" "$MXLAB_PF_RELAYDEFER" \
         "$MXLAB_PF_EXO" "$MXLAB_PF_POLICYLISTED" "$MXLAB_PF_SENDERREJ" "$MXLAB_PF_RELAYRCPT" "$MXLAB_WAN_GOOD" \
         "$MXLAB_WAN_EXIM" "$MXLAB_WAN_PF" "$MXLAB_PF_DANESELF"; do
  wait_banner "$a"
done
for _ in $(seq 100); do $NX ss -Hltn 'sport = :443' | grep -q "$MXLAB_MTASTS:443" && break; sleep 0.05; done
$NX ss -Hltn 'sport = :443' | grep -q "$MXLAB_MTASTS:443" || { lablog "nginx is not listening on $MXLAB_MTASTS:443"; exit 1; }
wait_listen "$MXLAB_EXIM_GREETPAUSE"
wait_listen "$MXLAB_PF_POSTSCREEN"   # its 220 comes after the 6 s greet wait
$NX ss -Hltn 'sport = :25' | grep -q '\[::1\]:25' || { lablog "nothing on [::1]:25"; exit 1; }
for _ in $(seq 200); do $NX "$MXLAB_PGBIN/pg_isready" -q -h "$MXLAB_PG" -p "$MXLAB_PG_PORT" && break; sleep 0.05; done
$NX "$MXLAB_PGBIN/pg_isready" -q -h "$MXLAB_PG" -p "$MXLAB_PG_PORT" || { lablog "PostgreSQL is not ready on $MXLAB_PG"; exit 1; }
$NX "$MXLAB_PGBIN/createdb" -h "$MXLAB_PG" -p "$MXLAB_PG_PORT" -U mailcheck mailcheck ||
  { lablog "createdb mailcheck failed"; exit 1; }
trap - EXIT
lablog "lab up in $(( ($(date +%s%N) - T0) / 1000000 )) ms (netns $MXLAB_NS, run dir $R, CA $MXLAB_CA)"
