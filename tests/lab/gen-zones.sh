#!/usr/bin/env bash
# Write the lab's DNS data into DIR (deterministic; no network):
#   DIR/*.zone, DIR/knot-zones.conf   Knot: fake root ".", "test.", one zone per scenario domain
#                                     (SOA/NS at each apex, as on the Internet), reverse zones
#   DIR/bl4.txt, DIR/bl6.txt          rbldnsd data for the DNSBL zone bl.test
# Scenario → records are documented next to each zone; expected results are in ../scenarios.tsv.
set -euo pipefail
OUT=$(realpath -m "${1:?usage: gen-zones.sh DIR}")
mkdir -p "$OUT"
rm -f "$OUT"/*.zone "$OUT"/knot-zones.conf "$OUT"/delegations.inc "$OUT"/bl*.txt "$OUT"/signed-zones.txt "$OUT"/bogus-zones.txt
SOA='SOA ns1.test. hostmaster.test. 2026010101 3600 600 86400 60'
: > "$OUT/delegations.inc"

# Mail authentication records. Every ordinary scenario domain publishes SPF (a range that is none
# of the MX addresses: an MX IP authorized directly would change the severity of listings and
# banner mismatches), DMARC p=reject, TLS-RPT and an MTA-STS policy in testing mode whose mx:
# lines name the domain's MX hosts, served by nginx ($MTASTS_IP, or $MTASTS_WAN_IP for the
# domains reached from the prober namespaces) at https://mta-sts.<domain>/.well-known/mta-sts.txt.
# AUTH=none/dmarc/nosts (env of zone()) publishes nothing / DMARC only / SPF+DMARC only; the
# MTA-STS scenarios write their own records.
MTASTS_IP=127.0.0.40 MTASTS_WAN_IP=198.18.25.40 MTASTS_WRONG_IP=127.0.0.41
mkdir -p "$OUT/mta-sts"; rm -rf "${OUT:?}/mta-sts/"*; : > "$OUT/mta-sts-hosts.txt"
# sts_policy DOMAIN MODE MX-PATTERN...: the policy file nginx serves for mta-sts.DOMAIN
sts_policy() {
  local d=$1 mode=$2 m; shift 2
  mkdir -p "$OUT/mta-sts/mta-sts.$d/.well-known"
  { printf 'version: STSv1\nmode: %s\n' "$mode"; for m in "$@"; do printf 'mx: %s\n' "$m"; done
    printf 'max_age: 86400\n'; } > "$OUT/mta-sts/mta-sts.$d/.well-known/mta-sts.txt"
  echo "mta-sts.$d" >> "$OUT/mta-sts-hosts.txt"
}
# the MX host names of a generated zone file (the domain itself for an implicit MX)
zone_mx_hosts() {
  local z=$1 f=$2 hosts
  hosts=$(awk -v z="$z" '$1 == "@" && $2 == "MX" { h = $4; if (h ~ /\.$/) sub(/\.$/, "", h); else h = h "." z; print h }' "$f")
  echo "${hosts:-$z}"
}
auth_records() {  # DOMAIN FILE: append the records described above
  local z=$1 f=$2 ip=$MTASTS_IP
  [ "${AUTH:-all}" = none ] && return
  [ "${AUTH:-all}" = dmarc ] || grep -q 'v=spf1' "$f" || printf '@ TXT "v=spf1 ip4:198.51.100.0/24 -all"\n' >> "$f"
  printf '_dmarc TXT "v=DMARC1; p=reject; rua=mailto:dmarc@%s"\n' "$z" >> "$f"
  [ "${AUTH:-all}" = all ] || return 0
  case $z in wan.test|natexim.test|natpostfix.test|wanclosed.test) ip=$MTASTS_WAN_IP ;; esac
  printf '_mta-sts TXT "v=STSv1; id=2026010101"\nmta-sts A %s\n_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tlsrpt@%s"\n' "$ip" "$z" >> "$f"
  # shellcheck disable=SC2046
  sts_policy "$z" testing $(zone_mx_hosts "$z" "$f")
}

# zone APEX [FILE] < records (relative to the apex)
zone() {
  local z=$1 f=${2:-$1.zone}
  { printf '$ORIGIN %s.\n$TTL 300\n@ %s\n@ NS ns1.test.\n' "$z" "$SOA"; cat; } > "$OUT/$f"
  printf '  - domain: %s.\n    file: %s\n' "$z" "$f" >> "$OUT/knot-zones.conf"
  # SIGN=1: Knot signs the zone (dnssec-policy lab, keys made by up.sh, which also puts the DS
  # in the parent); SIGN=bogus: signed, but the parent gets a DS that matches no key
  if [ -n "${SIGN:-}" ]; then
    printf '    dnssec-signing: on\n    dnssec-policy: lab\n' >> "$OUT/knot-zones.conf"
    echo "$z." >> "$OUT/signed-zones.txt"
    [ "$SIGN" = bogus ] && echo "$z." >> "$OUT/bogus-zones.txt"
  fi
  case $z in *.test) printf '%s NS ns1.test.\n' "${z%.test}" >> "$OUT/delegations.inc" ;; esac
  case $z in probe.test|test) ;; *.test) auth_records "$z" "$OUT/$f" ;; esac
}
# mxzone DOMAIN LAST-OCTET: "DOMAIN MX 10 mx.DOMAIN", mx.DOMAIN A 127.0.0.N (one server each)
mxzone() {
  zone "$1" <<Z
@   MX 10 mx
mx  A  127.0.0.$2
Z
}

# ---- healthy Postfix A (also the accepting host of several other scenarios)
zone good.test <<'Z'
@       MX  10 mx1
@       TXT "v=spf1 mx -all"
mx1     A   127.0.0.10
Z
mxzone bannerlie.test 11     # Postfix B; banner claims mx1.good.test (which is 127.0.0.10)
mxzone exim.test 12          # Exim, healthy
mxzone notls.test 13         # OpenSMTPD without STARTTLS
mxzone tlsfail.test 14       # OpenSMTPD, STARTTLS advertised, handshake fails
mxzone wrongcert.test 15     # Postfix B, certificate for wrong-name.invalid
mxzone mailrej.test 16       # Postfix B, 554 at MAIL FROM
mxzone greetpause.test 17    # Exim, banner only after MXLAB_GREET_PAUSE seconds
mxzone listed.test 18        # Postfix A; 127.0.0.18 listed in bl.test
mxzone busy.test 19          # smtp-sink: 421 greeting
mxzone dropmail.test 20      # smtp-sink: disconnects after MAIL FROM
mxzone filtered.test 30      # SYNs dropped
mxzone closed.test 31        # connection refused
mxzone senderverify.test 21  # Exim, stock `require verify = sender`: an unroutable sender gets 550 at RCPT
mxzone relaydefer.test 22    # Postfix B with stock relay restrictions, not serving the domain: 454 4.7.1
mxzone postscreen.test 23    # Postfix A behind postscreen (6 s greet wait, enforce)
mxzone exo.test 24           # Postfix B + milter: Exchange Online's 550 5.4.1 Access denied for postmaster@
mxzone policylisted.test 25  # Postfix A; 127.0.0.25 on the lab's zen.spamhaus.org with the PBL code 127.0.0.10
mxzone senderrej.test 26     # Postfix B, reject_unknown_sender_domain (550 at RCPT)
mxzone relayrcpt.test 27     # Postfix B relays the domain; postmaster@ is not in relay_recipient_maps
zone relay.test <<'Z'
; MX is Postfix A, which is not configured for this domain: 554 Relay access denied
@   MX 10 mx1.good.test.
Z
zone nopostmaster.test <<'Z'
; MX is Exim, which accepts the domain but has no postmaster@ there: 550 5.1.1
@   MX 10 mx.exim.test.
Z
zone tempfail.test <<'Z'
; MX is Exim, which defers every RCPT for this domain: 452 4.3.1 Insufficient system storage
@   MX 10 mx.exim.test.
Z
zone greylist.test <<'Z'
; MX is Exim, which greylists every RCPT for this domain: 451 4.7.1 greylisted, please try again later
@   MX 10 mx.exim.test.
Z
zone greyfilter.test <<'Z'
; MX 10 greylists (Exim), MX 20 drops SYNs
@   MX 10 mx.exim.test.
@   MX 20 mx.filtered.test.
Z
zone busyclosed.test <<'Z'
; MX 10 answers 421 at the greeting (smtp-sink), MX 20 refuses connections
@   MX 10 mx.busy.test.
@   MX 20 mx.closed.test.
Z
AUTH=nosts zone localhost.test <<'Z'
; MX host is localhost. (loopback: unusable unless private targets are allowed)
@   MX 10 localhost.
Z
zone dnsblfail.test <<'Z'
; MX is Postfix A; probed with an extra blocklist zone (blrefused.test) whose server refuses it
@   MX 10 mx1.good.test.
Z
# ---- MTA-STS (policies served by nginx; every other domain has a good testing-mode one)
AUTH=nosts zone stsgood.test <<Z
; enforce-mode policy naming the live MX (Postfix A): clean
@          MX  10 mx1.good.test.
_mta-sts   TXT "v=STSv1; id=2026010101"
mta-sts    A   $MTASTS_IP
_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tlsrpt@stsgood.test"
Z
sts_policy stsgood.test enforce mx1.good.test
AUTH=nosts zone stsmismatch.test <<Z
; enforce-mode policy whose mx: misses the live MX mx1.good.test: mtasts.mx_mismatch (error)
@          MX  10 mx1.good.test.
_mta-sts   TXT "v=STSv1; id=2026010101"
mta-sts    A   $MTASTS_IP
_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tlsrpt@stsmismatch.test"
Z
sts_policy stsmismatch.test enforce mx.stsmismatch.test '*.mx.stsmismatch.test'
AUTH=nosts zone stswrongcert.test <<Z
; policy host serves a certificate for wrong-name.invalid: mtasts.invalid (error)
@          MX  10 mx1.good.test.
_mta-sts   TXT "v=STSv1; id=2026010101"
mta-sts    A   $MTASTS_WRONG_IP
_smtp._tls TXT "v=TLSRPTv1; rua=mailto:tlsrpt@stswrongcert.test"
Z
sts_policy stswrongcert.test enforce mx1.good.test
# ---- DNSSEC and DANE (Knot signs; test. and the fake root are signed too, so the chain validates
# from the lab root key, $MXLAB_RUN/dnssec/root.key). TLSA_GOOD is replaced by up.sh with the SHA-256
# of the SPKI of the certificate the MX really serves (good.pem of Postfix A, self.pem of .28).
SIGN=1 zone danegood.test <<'Z'
; signed; MX Postfix A (lab-CA certificate) with a matching TLSA 3 1 1: dane.valid
@            MX    10 mx
mx           A     127.0.0.10
_25._tcp.mx  TLSA  3 1 1 TLSA_GOOD
Z
SIGN=1 zone daneself.test <<'Z'
; signed; MX Postfix A on .28 with a self-signed certificate and a matching TLSA 3 1 1 (DANE-EE)
@            MX    10 mx
mx           A     127.0.0.28
_25._tcp.mx  TLSA  3 1 1 TLSA_SELF
Z
SIGN=1 zone danewrong.test <<'Z'
; signed; TLSA 3 1 1 that matches no certificate the MX serves: dane.mismatch
@            MX    10 mx
mx           A     127.0.0.10
_25._tcp.mx  TLSA  3 1 1 0000000000000000000000000000000000000000000000000000000000000000
Z
zone danenosig.test <<'Z'
; NOT signed, but publishes a (matching) TLSA 3 1 1: dane.unusable
@            MX    10 mx
mx           A     127.0.0.10
_25._tcp.mx  TLSA  3 1 1 TLSA_GOOD
Z
SIGN=bogus zone bogus.test <<'Z'
; signed, but the DS in test. matches none of its keys: validation fails (bogus)
@            MX    10 mx
mx           A     127.0.0.10
Z
zone probe.test <<'Z'
; the prober's own names (--helo): A = PTR = the address the servers see it connect from
@     A  127.0.0.9
nat   A  198.18.9.2
rej   A  198.18.10.2
drop  A  198.18.11.2
Z
# ---- the "wan": servers on 198.18.25.x, reachable from the prober namespaces (mxnat, mxrej, mxdrop)
zone wan.test <<'Z'
; healthy Postfix A on its wan address
@   MX 10 mx
mx  A  198.18.25.10
Z
zone natexim.test <<'Z'
; Exim on its wan address: echoes the client IP in EHLO, then 550 <client IP> is not welcome here
@   MX 10 mx
mx  A  198.18.25.12
Z
zone natpostfix.test <<'Z'
; Postfix B + milter on its wan address: 550 5.7.1 <client IP> is not welcome here at RCPT (no echo in EHLO)
@   MX 10 mx
mx  A  198.18.25.13
Z
zone wanclosed.test <<'Z'
; nothing listens on 198.18.25.31:25
@   MX 10 mx
mx  A  198.18.25.31
Z
zone implicit.test <<'Z'
; no MX at all, only an address: implicit MX (RFC 5321 5.1) -> Postfix A
@   A  127.0.0.10
Z
AUTH=dmarc zone nullmx.test <<'Z'
; RFC 7505 null MX
@   MX 0 .
@   TXT "v=spf1 -all"
Z
zone cname-mx.test <<'Z'
; MX target is an alias (RFC 2181 10.3 forbids it); the alias leads to Postfix A
@     MX    10 mail
mail  CNAME mx1.good.test.
Z
zone noaddr.test <<'Z'
; MX target exists but has no A/AAAA (NODATA)
@     MX  10 host
host  TXT "this name has no address"
Z
zone dangling.test <<'Z'
; MX target does not exist (NXDOMAIN)
@   MX 10 nothere
Z
zone v6only.test <<'Z'
; the only MX address is IPv6 (::1, Postfix A)
@   MX   10 mx
mx  AAAA ::1
Z
zone multi.test <<'Z'
; primary MX drops SYNs, the backup (Postfix A) accepts
@   MX 10 mx.filtered.test.
@   MX 20 mx1.good.test.
Z
# ---- the sending side (../senders.tsv: `mailcheck-audit sender` rows; DNS only, nothing listens on
# these addresses): an office line with a generic PTR (.77), one without any PTR (.78), one whose PTR
# name resolves elsewhere (.79); SPF soft-fails everything else; nospf.office.test has no SPF and
# spferr.office.test one that does not parse (permerror).
zone office.test <<'Z'
@               MX  10 mx1.good.test.
@               TXT "v=spf1 ip4:127.0.0.77 ip4:127.0.0.78 ~all"
127-0-0-77.dyn  A   127.0.0.77
noptr           A   127.0.0.78
nospf           TXT "this name sends mail but publishes no SPF record"
spferr          TXT "v=spf1 ip4:198.51.100.300 -all"
Z
# servfail.test: configured in Knot, but its zone file is missing on purpose -> SERVFAIL.
printf '  - domain: servfail.test.\n    file: servfail.test.zone-missing-on-purpose\n' >> "$OUT/knot-zones.conf"
printf 'servfail NS ns1.test.\n' >> "$OUT/delegations.inc"
# nxdomain.test: simply not delegated from test. -> NXDOMAIN.

# ---- parents: test. and the fake root (everything outside the lab is NXDOMAIN)
SIGN=1 zone test test.zone <<Z
ns1      A  127.0.0.54
bl       NS ns.bl.test.
ns.bl    A  127.0.0.55
; a blocklist zone delegated to rbldnsd, which does not serve it: REFUSED (the resolver: SERVFAIL)
blrefused NS ns.bl.test.
\$INCLUDE $OUT/delegations.inc
Z
# zen.spamhaus.org: a lab copy on rbldnsd (never the real one: nothing leaves the namespace), so a
# list whose return codes the prober knows by name (127.0.0.10 = PBL, a policy listing) is tested.
{ printf '$ORIGIN .\n$TTL 300\n. %s\n. NS ns1.test.\ntest. NS ns1.test.\nns1.test. A 127.0.0.54\n' "$SOA"
  printf 'zen.spamhaus.org. NS ns.bl.test.\n'
  # the reverse trees, delegated (insecurely) to the same server, so that the signed root proves
  # they are unsigned instead of denying that they exist
  printf 'in-addr.arpa. NS ns1.test.\nip6.arpa. NS ns1.test.\n'; } > "$OUT/root.zone"
printf '  - domain: .\n    file: root.zone\n    dnssec-signing: on\n    dnssec-policy: lab\n' >> "$OUT/knot-zones.conf"
echo . >> "$OUT/signed-zones.txt"

# ---- reverse zones: every MX address has a PTR whose name resolves back to it (FCrDNS)
zone 127.in-addr.arpa 127.rev.zone <<'Z'
1.0.0   PTR localhost.
10.0.0  PTR mx1.good.test.
11.0.0  PTR mx.bannerlie.test.
12.0.0  PTR mx.exim.test.
13.0.0  PTR mx.notls.test.
14.0.0  PTR mx.tlsfail.test.
15.0.0  PTR mx.wrongcert.test.
16.0.0  PTR mx.mailrej.test.
17.0.0  PTR mx.greetpause.test.
18.0.0  PTR mx.listed.test.
19.0.0  PTR mx.busy.test.
20.0.0  PTR mx.dropmail.test.
30.0.0  PTR mx.filtered.test.
31.0.0  PTR mx.closed.test.
9.0.0   PTR probe.test.
21.0.0  PTR mx.senderverify.test.
22.0.0  PTR mx.relaydefer.test.
23.0.0  PTR mx.postscreen.test.
24.0.0  PTR mx.exo.test.
25.0.0  PTR mx.policylisted.test.
26.0.0  PTR mx.senderrej.test.
27.0.0  PTR mx.relayrcpt.test.
28.0.0  PTR mx.daneself.test.
; the sending side (senders.tsv): a generic name; .78 has no PTR; .79's name resolves to .78
77.0.0  PTR 127-0-0-77.dyn.office.test.
79.0.0  PTR noptr.office.test.
Z
zone 18.198.in-addr.arpa 198-18.rev.zone <<'Z'
2.9     PTR nat.probe.test.
2.10    PTR rej.probe.test.
2.11    PTR drop.probe.test.
10.25   PTR mx.wan.test.
12.25   PTR mx.natexim.test.
13.25   PTR mx.natpostfix.test.
31.25   PTR mx.wanclosed.test.
Z
# ::1 (Unbound needs local-zone nodefault for this name; it is a built-in local zone)
zone 1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa v6loop.rev.zone <<'Z'
@   PTR mx.v6only.test.
Z

# ---- DNSBL bl.test (rbldnsd). RFC 5782 test points: 127.0.0.2 listed, 127.0.0.1 not;
# IPv6 test point ::ffff:7f00:2 listed, ::ffff:7f00:1 not. Only 127.0.0.18 (mx.listed.test) is a real listing.
cat > "$OUT/bl4.txt" <<'Z'
$SOA 300 ns.bl.test. hostmaster.test. 1 3600 600 86400 60
$NS 300 ns.bl.test.
:127.0.0.2:Listed in the lab blocklist: see http://bl.test/lookup?ip=$
127.0.0.2
127.0.0.18
Z
cat > "$OUT/bl6.txt" <<'Z'
:127.0.0.2:Listed in the lab blocklist (IPv6): $
::ffff:7f00:2
Z
# ---- the lab's zen.spamhaus.org (rbldnsd): the test points, and 127.0.0.25 (mx.policylisted.test)
# with 127.0.0.10, Spamhaus's PBL code for an end-user range (a policy listing, not abuse).
cat > "$OUT/zen4.txt" <<'Z'
$SOA 300 ns.bl.test. hostmaster.test. 1 3600 600 86400 60
$NS 300 ns.bl.test.
:127.0.0.2:Lab copy of zen.spamhaus.org: https://check.spamhaus.org/query/ip/$
127.0.0.2
127.0.0.25 :127.0.0.10:Lab copy of zen.spamhaus.org (PBL, ISP maintained): https://check.spamhaus.org/query/ip/$
Z
cat > "$OUT/zen6.txt" <<'Z'
:127.0.0.2:Lab copy of zen.spamhaus.org (IPv6): $
::ffff:7f00:2
Z
chmod -R a+rX "$OUT"
