#!/usr/bin/env bash
# Install everything the mailcheck interop lab needs, on Debian 12, as root.
# Idempotent and quick when already done (no apt-get update unless a package is missing).
#
# Postfix, Knot (knotd, keymgr), Unbound, rbldnsd, nginx-light (MTA-STS policies over HTTPS),
# python3-milter (for lab-milter.py), postgresql (the run history's PostgreSQL store; its own
# cluster is never started, up.sh runs a throwaway one) and chromium (headless, for the HTML
# report's browser test, tests/tests/report_browser.rs; the largest package here, hence
# --no-install-recommends like everything else) come from apt as usual.
# Exim and OpenSMTPD conflict with Postfix (all three provide mail-transport-agent), so they are
# only downloaded and unpacked into $MXLAB_EXTRACT; their shared libraries are ordinary packages
# and get installed here.
set -euo pipefail

[ "$(id -u)" = 0 ] || { echo "install.sh: must run as root" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
EXTRACT=${MXLAB_EXTRACT:-/opt/mxlab-mta}

# Package scripts must not start daemons on the host (Debian's policy-rc.d convention); a
# policy-rc.d we add is removed again when we are done.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi

PKGS=(
  knot knot-dnsutils unbound rbldnsd nginx-light postfix nftables iproute2 bind9-dnsutils openssl
  python3 python3-milter util-linux procps ca-certificates postgresql chromium
  # libraries of the unpacked exim4-daemon-light and opensmtpd
  libdb5.3 libgnutls-dane0 libgnutls30 libidn12 libidn2-0 libnsl2 libpcre2-8-0 libcrypt1
  libevent-2.1-7 libpam0g libssl3 zlib1g
)
missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$st" = "install ok installed" ] || missing+=("$p")
done
updated=0
if [ ${#missing[@]} -gt 0 ]; then
  echo "install.sh: installing ${missing[*]}"
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get update -qq; updated=1
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x "$EXTRACT/usr/sbin/exim4" ] || [ ! -x "$EXTRACT/usr/sbin/smtpd" ]; then
  echo "install.sh: unpacking exim4 + opensmtpd into $EXTRACT"
  tmp=$(mktemp -d); chmod 755 "$tmp"; chown _apt "$tmp" 2>/dev/null || true
  dl() { (cd "$tmp" && apt-get download -qq exim4-daemon-light exim4-base exim4-config opensmtpd); }
  dl || { [ $updated = 1 ] || { apt-get update -qq; updated=1; }; dl; }
  rm -rf "$EXTRACT.new"; mkdir -p "$EXTRACT.new"
  for d in "$tmp"/*.deb; do dpkg -x "$d" "$EXTRACT.new"; done
  rm -rf "$tmp" "$EXTRACT"; mv "$EXTRACT.new" "$EXTRACT"
fi

# System users the unpacked daemons expect (their postinst would have made them).
getent group Debian-exim >/dev/null || groupadd --system Debian-exim
getent passwd Debian-exim >/dev/null ||
  useradd --system -g Debian-exim -d /var/spool/exim4 -s /usr/sbin/nologin Debian-exim
for u in opensmtpd opensmtpq; do
  getent passwd "$u" >/dev/null ||
    useradd --system -U -d /var/lib/opensmtpd/empty -s /usr/sbin/nologin "$u"
done
# rbldnsd refuses to run as root; its package creates this user, but be sure.
getent passwd rbldns >/dev/null || useradd --system -U -d /nonexistent -s /usr/sbin/nologin rbldns
mkdir -p /var/lib/opensmtpd/empty /var/spool/smtpd
chmod 711 /var/spool/smtpd

ver=$("$EXTRACT/usr/sbin/exim4" -bV 2>&1 || true)   # exits non-zero without a config file
[[ $ver == *"Exim version"* ]] || { echo "install.sh: unpacked exim4 does not run" >&2; exit 1; }
echo "install.sh: ok"
