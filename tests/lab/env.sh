# shellcheck shell=bash
# The lab's names and addresses. Source it: `. tests/lab/env.sh`.
# Everything listed here lives inside network namespace $MXLAB_NS; 127.0.0.x are /32s on its lo.
# Tests (tests/tests/interop.rs) read the MXLAB_* variables, with the same defaults.
export MXLAB_NS=${MXLAB_NS:-mxlab}            # network namespace holding the whole lab
export MXLAB_RUN=${MXLAB_RUN:-/run/mxlab}     # configs, pids, logs, spools, certificates
export MXLAB_EXTRACT=${MXLAB_EXTRACT:-/opt/mxlab-mta}  # unpacked exim4 + opensmtpd (install.sh)
export MXLAB_GREET_PAUSE=${MXLAB_GREET_PAUSE:-11}      # seconds Exim holds mx.greetpause.test's banner
# Prober namespaces beside the lab, each linked to it by a veth pair (see "Prober namespaces" below).
export MXLAB_NAT_NS=${MXLAB_NAT_NS:-mxnat}      # behind NAT: servers see $MXLAB_NAT_PUBLIC only
export MXLAB_REJ_NS=${MXLAB_REJ_NS:-mxrej}      # own nftables output chain REJECTs tcp dport 25
export MXLAB_DROP_NS=${MXLAB_DROP_NS:-mxdrop}   # own nftables output chain DROPs tcp dport 25

# DNS
export MXLAB_RESOLVER=127.0.0.53   # Unbound, recursive from the lab's fake root (resolv.conf in the netns)
export MXLAB_RESOLVER_NOVAL=127.0.0.56  # Unbound, recursive like .53 but not validating DNSSEC (bogus.test gets its records)
export MXLAB_AUTH=127.0.0.54       # Knot: ".", "test.", one zone per scenario domain, reverse zones
export MXLAB_RBL=127.0.0.55        # rbldnsd: bl.test (UDP only); delegated from test.
export MXLAB_DNSBL_ZONE=bl.test
export MXLAB_CA=$MXLAB_RUN/tls/ca.pem   # lab CA for --ca-file
export MXLAB_TRUST_ANCHOR=$MXLAB_RUN/dnssec/root.key  # the lab root's DNSKEY (Knot signs ., test., dane*.test, bogus.test), for --trust-anchor
export MXLAB_DNSBL_DEAD_ZONE=blrefused.test  # a blocklist zone whose server REFUSEs it (resolver: SERVFAIL)
export MXLAB_ZEN_ZONE=zen.spamhaus.org       # the lab's own copy (rbldnsd, delegated from the fake root)

# The prober inside mxlab: every lab address's local route has this as its preferred source, so
# servers see the prober as 127.0.0.9 = probe.test (A and PTR: a good identity, not listed).
export MXLAB_PROBER=127.0.0.9
export MXLAB_HELO=probe.test
export MXLAB_EGRESS_CANARY=127.0.0.10:25

# SMTP servers (port 25). name = PTR = A record = banner, unless the scenario says otherwise.
export MXLAB_PF_GOOD=127.0.0.10        # Postfix A   mx1.good.test        healthy, STARTTLS
export MXLAB_PF_BANNERLIE=127.0.0.11   # Postfix B   mx.bannerlie.test    banner says mx1.good.test
export MXLAB_EXIM=127.0.0.12           # Exim        mx.exim.test         STARTTLS; exim/nopostmaster/tempfail.test
export MXLAB_SMTPD_NOTLS=127.0.0.13    # OpenSMTPD   mx.notls.test        no STARTTLS
export MXLAB_SMTPD_TLSFAIL=127.0.0.14  # OpenSMTPD   mx.tlsfail.test      STARTTLS offered, handshake fails
export MXLAB_PF_WRONGCERT=127.0.0.15   # Postfix B   mx.wrongcert.test    certificate for wrong-name.invalid
export MXLAB_PF_MAILREJ=127.0.0.16     # Postfix B   mx.mailrej.test      554 at MAIL FROM
export MXLAB_EXIM_GREETPAUSE=127.0.0.17 # Exim       mx.greetpause.test   banner after $MXLAB_GREET_PAUSE s
export MXLAB_PF_LISTED=127.0.0.18      # Postfix A   mx.listed.test       listed in bl.test
export MXLAB_SINK_BUSY=127.0.0.19      # smtp-sink   mx.busy.test         421 instead of a greeting
export MXLAB_SINK_DROPMAIL=127.0.0.20  # smtp-sink   mx.dropmail.test     hangs up after MAIL FROM
export MXLAB_FILTERED=127.0.0.30       #             mx.filtered.test     SYN dropped (nft)
export MXLAB_CLOSED=127.0.0.31         #             mx.closed.test       nothing listens (RST)
export MXLAB_PF_V6=::1                 # Postfix A   mx.v6only.test       IPv6-only MX
export MXLAB_EXIM_SENDERVERIFY=127.0.0.21 # Exim     mx.senderverify.test stock `require verify = sender`
export MXLAB_PF_RELAYDEFER=127.0.0.22  # Postfix B   mx.relaydefer.test   stock relay restrictions: 454 Relay access denied
export MXLAB_PF_POSTSCREEN=127.0.0.23  # Postfix A   mx.postscreen.test   postscreen, default 6 s greet wait, enforce
export MXLAB_PF_EXO=127.0.0.24         # Postfix B   mx.exo.test          milter: 550 5.4.1 ... Access denied for postmaster
export MXLAB_PF_POLICYLISTED=127.0.0.25 # Postfix A  mx.policylisted.test on the lab's zen.spamhaus.org as PBL (127.0.0.10)
export MXLAB_PF_SENDERREJ=127.0.0.26   # Postfix B   mx.senderrej.test    reject_unknown_sender_domain (550)
export MXLAB_PF_RELAYRCPT=127.0.0.27   # Postfix B   mx.relayrcpt.test    relay domain without postmaster in relay_recipient_maps
# HTTPS (port 443): MTA-STS policies, https://mta-sts.<domain>/.well-known/mta-sts.txt
export MXLAB_MTASTS=127.0.0.40         # nginx       mta-sts.<domain>     every scenario domain's policy (lab-CA certificate)
export MXLAB_MTASTS_WRONG=127.0.0.41   # nginx       mta-sts.stswrongcert.test  certificate for wrong-name.invalid
export MXLAB_PF_DANESELF=127.0.0.28   # Postfix A   mx.daneself.test     self-signed certificate, matching TLSA 3 1 1 (DANE-EE)
export MXLAB_MILTER=127.0.0.1:8891     # lab-milter.py: scripted RCPT replies for Postfix B
# PostgreSQL for the run-history tests (tests/tests/history_pg.rs): trust auth from the lab,
# superuser mailcheck; each test creates its own database.
export MXLAB_PG=127.0.0.57
export MXLAB_PG_PORT=5432
export MXLAB_PG_URL=${MXLAB_PG_URL:-postgres://mailcheck@$MXLAB_PG:$MXLAB_PG_PORT/mailcheck}
# The newest installed PostgreSQL server (Debian keeps each major version under its own path).
MXLAB_PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)

# The "wan": addresses on mxlab's lo that the prober namespaces reach through their veth.
export MXLAB_WAN_RESOLVER=198.18.25.53   # Unbound, also listening here
export MXLAB_WAN_GOOD=198.18.25.10       # Postfix A   mx.wan.test          healthy; egress canary from the namespaces
export MXLAB_WAN_EXIM=198.18.25.12       # Exim        mx.natexim.test      echoes [client IP] in EHLO; 550 <client IP> is not welcome here
export MXLAB_WAN_PF=198.18.25.13         # Postfix B   mx.natpostfix.test   milter: 550 5.7.1 <client IP> is not welcome here
export MXLAB_WAN_MTASTS=198.18.25.40     # nginx       mta-sts.<wan domain> the wan domains' MTA-STS policies
export MXLAB_WAN_CLOSED=198.18.25.31     #             mx.wanclosed.test    nothing listens (RST)
export MXLAB_WAN_CANARY=$MXLAB_WAN_GOOD:25
# Prober namespaces: address there, address of mxlab's end of the veth, EHLO name (A = PTR = what
# servers see).
export MXLAB_NAT_INSIDE=192.168.25.2 MXLAB_NAT_GW=192.168.25.1   # private; mxlab SNATs it to:
export MXLAB_NAT_PUBLIC=198.18.9.2 MXLAB_NAT_HELO=nat.probe.test
export MXLAB_REJ_ADDR=198.18.10.2 MXLAB_REJ_GW=198.18.10.1 MXLAB_REJ_HELO=rej.probe.test
export MXLAB_DROP_ADDR=198.18.11.2 MXLAB_DROP_GW=198.18.11.1 MXLAB_DROP_HELO=drop.probe.test

# Every IPv4 address the lab puts on lo (last octet).
MXLAB_V4_OCTETS="9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 30 31 40 41 53 54 55 56 57"
MXLAB_WAN_ADDRS="$MXLAB_WAN_GOOD $MXLAB_WAN_EXIM $MXLAB_WAN_PF $MXLAB_WAN_CLOSED $MXLAB_WAN_RESOLVER $MXLAB_WAN_MTASTS"

NX="ip netns exec $MXLAB_NS"   # prefix: run a command inside the lab

# as_postgres CMD...: run a command as the postgres user (the server refuses to run as root).
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }

lablog() { printf '[mxlab %s] %s\n' "$(date +%T.%3N)" "$*" >&2; }

# wait_dns SERVER NAME TYPE REGEX [tries]: poll until dig's output matches.
wait_dns() {
  local i
  for ((i = 0; i < ${5:-100}; i++)); do
    $NX dig +tries=1 +time=1 @"$1" "$2" "$3" 2>/dev/null | grep -Eq "$4" && return 0
    sleep 0.05
  done
  lablog "timeout waiting for DNS @$1 $2 $3 ~ /$4/"; return 1
}
# wait_banner ADDR [tries]: poll until ADDR:25 sends a line starting with 220 or 421.
# (read -t: a plain `head </dev/tcp/...` can block for minutes on a short banner.)
wait_banner() {
  local i
  for ((i = 0; i < ${2:-100}; i++)); do
    $NX timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/25" && read -r -t 2 l <&3 && [[ $l == 220* || $l == 421* ]]' _ "$1" \
      2>/dev/null && return 0
    sleep 0.05
  done
  lablog "timeout waiting for an SMTP banner on $1:25"; return 1
}
# wait_listen ADDR: poll until something listens on ADDR:25 (for servers whose banner is slow).
wait_listen() {
  local i
  for ((i = 0; i < ${2:-100}; i++)); do
    $NX ss -Hltn "src $1 and sport = :25" 2>/dev/null | grep -q . && return 0
    sleep 0.05
  done
  lablog "timeout waiting for a listener on $1:25"; return 1
}
