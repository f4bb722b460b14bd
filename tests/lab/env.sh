# shellcheck shell=bash
# The lab's names and addresses. Source it: `. tests/lab/env.sh`.
# Everything listed here lives inside network namespace $MXLAB_NS; 127.0.0.x are /32s on its lo.
# Tests (tests/tests/interop.rs) read the MXLAB_* variables, with the same defaults.
export MXLAB_NS=${MXLAB_NS:-mxlab}            # network namespace holding the whole lab
export MXLAB_RUN=${MXLAB_RUN:-/run/mxlab}     # configs, pids, logs, spools, certificates
export MXLAB_EXTRACT=${MXLAB_EXTRACT:-/opt/mxlab-mta}  # unpacked exim4 + opensmtpd (install.sh)
export MXLAB_GREET_PAUSE=${MXLAB_GREET_PAUSE:-11}      # seconds Exim holds mx.greetpause.test's banner

# DNS
export MXLAB_RESOLVER=127.0.0.53   # Unbound, recursive from the lab's fake root (resolv.conf in the netns)
export MXLAB_AUTH=127.0.0.54       # Knot: ".", "test.", one zone per scenario domain, reverse zones
export MXLAB_RBL=127.0.0.55        # rbldnsd: bl.test (UDP only); delegated from test.
export MXLAB_DNSBL_ZONE=bl.test
export MXLAB_CA=$MXLAB_RUN/tls/ca.pem   # lab CA for --ca-file

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

# Every IPv4 address the lab puts on lo (last octet).
MXLAB_V4_OCTETS="10 11 12 13 14 15 16 17 18 19 20 30 31 53 54 55"

NX="ip netns exec $MXLAB_NS"   # prefix: run a command inside the lab

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
