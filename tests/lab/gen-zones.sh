#!/usr/bin/env bash
# Write the lab's DNS data into DIR (deterministic; no network):
#   DIR/*.zone, DIR/knot-zones.conf   Knot: fake root ".", "test.", one zone per scenario domain
#                                     (SOA/NS at each apex, as on the Internet), reverse zones
#   DIR/bl4.txt, DIR/bl6.txt          rbldnsd data for the DNSBL zone bl.test
# Scenario → records are documented next to each zone; expected results are in ../scenarios.tsv.
set -euo pipefail
OUT=$(realpath -m "${1:?usage: gen-zones.sh DIR}")
mkdir -p "$OUT"
rm -f "$OUT"/*.zone "$OUT"/knot-zones.conf "$OUT"/delegations.inc "$OUT"/bl*.txt
SOA='SOA ns1.test. hostmaster.test. 2026010101 3600 600 86400 60'
: > "$OUT/delegations.inc"

# zone APEX [FILE] < records (relative to the apex)
zone() {
  local z=$1 f=${2:-$1.zone}
  { printf '$ORIGIN %s.\n$TTL 300\n@ %s\n@ NS ns1.test.\n' "$z" "$SOA"; cat; } > "$OUT/$f"
  printf '  - domain: %s.\n    file: %s\n' "$z" "$f" >> "$OUT/knot-zones.conf"
  case $z in *.test) printf '%s NS ns1.test.\n' "${z%.test}" >> "$OUT/delegations.inc" ;; esac
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
zone relay.test <<'Z'
; MX is Postfix A, which is not configured for this domain: 554 Relay access denied
@   MX 10 mx1.good.test.
Z
zone nopostmaster.test <<'Z'
; MX is Exim, which accepts the domain but has no postmaster@ there: 550 5.1.1
@   MX 10 mx.exim.test.
Z
zone tempfail.test <<'Z'
; MX is Exim, which defers every RCPT for this domain (greylisting style): 451
@   MX 10 mx.exim.test.
Z
zone implicit.test <<'Z'
; no MX at all, only an address: implicit MX (RFC 5321 5.1) -> Postfix A
@   A  127.0.0.10
Z
zone nullmx.test <<'Z'
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
# servfail.test: configured in Knot, but its zone file is missing on purpose -> SERVFAIL.
printf '  - domain: servfail.test.\n    file: servfail.test.zone-missing-on-purpose\n' >> "$OUT/knot-zones.conf"
printf 'servfail NS ns1.test.\n' >> "$OUT/delegations.inc"
# nxdomain.test: simply not delegated from test. -> NXDOMAIN.

# ---- parents: test. and the fake root (everything outside the lab is NXDOMAIN)
zone test test.zone <<Z
ns1      A  127.0.0.54
bl       NS ns.bl.test.
ns.bl    A  127.0.0.55
\$INCLUDE $OUT/delegations.inc
Z
{ printf '$ORIGIN .\n$TTL 300\n. %s\n. NS ns1.test.\ntest. NS ns1.test.\nns1.test. A 127.0.0.54\n' "$SOA"; } > "$OUT/root.zone"
printf '  - domain: .\n    file: root.zone\n' >> "$OUT/knot-zones.conf"

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
chmod -R a+rX "$OUT"
