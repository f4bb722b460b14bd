#!/usr/bin/python3
"""Smoke checks of the interop lab, independent of mailcheck. Run inside the lab namespace
(tests/lab/check.sh does that). Prints one line per check, then "N passed, N failed";
exits 1 if anything failed. Slow checks (greet-pause, postscreen, filtered port) run in parallel.

The prober namespaces beside the lab (mxnat, mxrej, mxdrop) are checked by this same script run
inside each of them (`check.py --from NS`, started from here): their lines carry an [NS] prefix."""
import concurrent.futures as cf
import ipaddress
import os
import re
import smtplib
import socket
import ssl
import subprocess
import sys
import time

E = os.environ.get
RESOLVER = E("MXLAB_RESOLVER", "127.0.0.53")
WAN_RESOLVER = E("MXLAB_WAN_RESOLVER", "198.18.25.53")
CA = E("MXLAB_CA", "/run/mxlab/tls/ca.pem")
PAUSE = float(E("MXLAB_GREET_PAUSE", "11"))
PROBER = E("MXLAB_PROBER", "127.0.0.9")
NAT_NS, REJ_NS, DROP_NS = E("MXLAB_NAT_NS", "mxnat"), E("MXLAB_REJ_NS", "mxrej"), E("MXLAB_DROP_NS", "mxdrop")
NAT_PUBLIC, NAT_INSIDE = E("MXLAB_NAT_PUBLIC", "198.18.9.2"), E("MXLAB_NAT_INSIDE", "192.168.25.2")
WAN_GOOD, WAN_EXIM, WAN_PF, WAN_CLOSED = "198.18.25.10", "198.18.25.12", "198.18.25.13", "198.18.25.31"
FROM = sys.argv[2] if len(sys.argv) > 2 and sys.argv[1] == "--from" else None
if FROM:
    RESOLVER = WAN_RESOLVER  # the prober namespaces reach the lab's Unbound on its wan address
HELO = {None: "probe.test", NAT_NS: "nat.probe.test"}.get(FROM, "probe.test")
SENDER = f"postmaster@{HELO}"
results = []


def report(name, ok, detail=""):
    results.append(bool(ok))
    print(("PASS " if ok else "FAIL ") + name + ("" if ok else f"   <-- {detail}"), flush=True)


# ------------------------------------------------------------------ DNS
def dig(name, qtype):
    out = subprocess.run(["dig", f"@{RESOLVER}", name, qtype, "+tries=1", "+time=3", "+noall",
                          "+comments", "+answer"], capture_output=True, text=True).stdout
    m = re.search(r"status: (\w+)", out)
    answers = [" ".join(l.split()[3:]) for l in out.splitlines() if l and not l.startswith(";")]
    return (m.group(1) if m else "TIMEOUT"), answers


def dns(name, qtype, status, *want):
    st, ans = dig(name, qtype)
    ok = st == status and all(any(w in a for a in ans) for w in want)
    report(f"dns {name} {qtype} -> {status} {' '.join(want)}", ok, f"{st} {ans}")


def rev(ip):
    return ipaddress.ip_address(ip).reverse_pointer


def fcrdns(ip, name):
    st, ans = dig(rev(ip), "PTR")
    st2, ans2 = dig(name, "AAAA" if ":" in ip else "A")
    ok = st == "NOERROR" and ans == [f"PTR {name}."] and any(a.endswith(" " + ip) for a in ans2)
    report(f"fcrdns {ip} -> {name} -> {ip}", ok, f"{ans} {ans2}")


def dnssec(name, qtype, status, ad, resolver=None):
    """A DO=1 query; ad: whether the resolver must set the AD bit (validated)."""
    out = subprocess.run(["dig", f"@{resolver or RESOLVER}", name, qtype, "+dnssec", "+tries=1", "+time=3"],
                         capture_output=True, text=True).stdout
    m = re.search(r"status: (\w+)", out)
    st = m.group(1) if m else "TIMEOUT"
    flags = re.search(r";; flags: ([a-z ]*);", out)
    got_ad = bool(flags) and "ad" in flags.group(1).split()
    report(f"dnssec @{resolver or RESOLVER} {name} {qtype} -> {status} AD={got_ad}", st == status and got_ad == ad,
           f"{st} AD={got_ad}, want {status} AD={ad}")


def spki_sha256(der):
    pem = ssl.DER_cert_to_PEM_cert(der)
    pub = subprocess.run(["openssl", "x509", "-noout", "-pubkey"], input=pem, capture_output=True, text=True).stdout
    spki = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub.encode(), capture_output=True).stdout
    return subprocess.run(["openssl", "dgst", "-sha256", "-r"], input=spki, capture_output=True).stdout.decode().split()[0]


def tlsa(ip, mx, match):
    """The TLSA 3 1 1 at _25._tcp.MX does (match=True) / does not match the certificate IP serves."""
    try:
        s, _, _ = connect(ip)
        s.ehlo(HELO)
        s.starttls(context=ssl._create_unverified_context())
        served = spki_sha256(s.sock.getpeercert(binary_form=True))
        s.quit()
    except Exception as e:  # noqa: BLE001
        served = repr(e)
    _, ans = dig(f"_25._tcp.{mx}", "TLSA")
    published = ["".join(a.split()[4:]).lower() for a in ans if a.startswith("TLSA 3 1 1")]
    report(f"tlsa _25._tcp.{mx} 3 1 1 {'matches' if match else 'does not match'} {ip}'s certificate",
           bool(published) and (served in published) == match, f"served {served}, published {published}")


def mtasts(ip, domain, want):
    """GET https://mta-sts.DOMAIN/.well-known/mta-sts.txt from IP, verified with the lab CA; want is a
    substring of the body or of the error."""
    host = f"mta-sts.{domain}"
    try:
        ctx = ssl.create_default_context(cafile=CA)
        with socket.create_connection((ip, 443), timeout=5) as raw, ctx.wrap_socket(raw, server_hostname=host) as c:
            c.sendall(f"GET /.well-known/mta-sts.txt HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            data = b""
            while chunk := c.recv(4096):
                data += chunk
        got = data.decode(errors="replace")
        head, _, body = got.partition("\r\n\r\n")
        got = f"{head.splitlines()[0]} {'text/plain' if 'Content-Type: text/plain' in head else 'not text/plain'} | " + " ".join(body.split())
    except ssl.SSLCertVerificationError as e:
        got = e.verify_message
    except OSError as e:
        got = f"{type(e).__name__}: {e}"
    report(f"mta-sts {host} via {ip}: {got}", want in got, f"want {want!r}")


# ------------------------------------------------------------------ SMTP
def connect(ip, timeout=5):
    s = smtplib.SMTP(timeout=timeout)
    code, msg = s.connect(ip, 25)
    s._host = ip  # smtplib.starttls() needs it when connect() is called separately
    return s, code, msg.decode(errors="replace")


def banner(ip, pattern, starttls):
    try:
        s, code, msg = connect(ip)
        s.ehlo(HELO)
        has = s.has_extn("starttls")
        s.quit()
        ok = code == 220 and re.search(pattern, msg) and has == starttls
        report(f"banner {ip}: 220 {msg!r}, STARTTLS={has}", ok, f"want /{pattern}/ STARTTLS={starttls}")
    except Exception as e:  # noqa: BLE001 - report anything
        report(f"banner {ip}", False, repr(e))


def tls(ip, name, want):
    """STARTTLS, verified against the lab CA for host NAME; want 'ok' or a substring of the error."""
    try:
        s, _, _ = connect(ip)
        s.ehlo(HELO)
        s._host = name  # SNI and the name checked
        s.starttls(context=ssl.create_default_context(cafile=CA))
        got = f"ok {s.sock.version()}"
        s.quit()
    except ssl.SSLCertVerificationError as e:
        got = e.verify_message
    except (ssl.SSLError, smtplib.SMTPException, OSError) as e:
        got = f"{type(e).__name__}: {e}"
    report(f"starttls {ip} as {name}: {got}", want in got, f"want {want!r}")


def rcpt(ip, domain, want_code, want_text="", stage="RCPT", sender=None):
    """EHLO, STARTTLS if offered (unverified), MAIL FROM, RCPT TO:<postmaster@domain>."""
    sender = SENDER if sender is None else sender
    try:
        s, _, _ = connect(ip)
        s.ehlo(HELO)
        if s.has_extn("starttls") and ip != "127.0.0.14":
            ctx = ssl._create_unverified_context()
            s.starttls(context=ctx)
            s.ehlo(HELO)
        code, msg = s.mail(sender)
        if stage == "RCPT" and code < 400:
            code, msg = s.rcpt(f"postmaster@{domain}")
        s.quit()
        msg = msg.decode(errors="replace").replace("\n", " / ")
    except smtplib.SMTPServerDisconnected as e:
        code, msg = 0, f"disconnected: {e}"
    except Exception as e:  # noqa: BLE001
        code, msg = -1, repr(e)
    report(f"smtp {ip} {stage} <{sender}> -> postmaster@{domain}: {code} {msg!r}",
           code == want_code and want_text in msg, f"want {want_code} {want_text!r}")


def ehlo_echo(ip, want):
    """The client address a server sees, as Exim echoes it in its EHLO reply ("Hello NAME [IP]")."""
    try:
        s, _, _ = connect(ip)
        code, msg = s.ehlo(HELO)
        local = s.sock.getsockname()[0]
        s.quit()
        first = msg.decode(errors="replace").splitlines()[0]
        report(f"ehlo {ip} from {local}: {code} {first!r}", f"[{want}]" in first, f"want [{want}]")
    except Exception as e:  # noqa: BLE001
        report(f"ehlo {ip}", False, repr(e))


def postscreen(ip):
    """postscreen: a 220- teaser at once, the final 220 line only after the greet wait (6 s)."""
    t = time.monotonic()
    try:
        with socket.create_connection((ip, 25), 15) as c:
            f = c.makefile("rb")
            first = f.readline().decode().rstrip()
            t1 = time.monotonic() - t
            last = f.readline().decode().rstrip()
            t2 = time.monotonic() - t
            c.sendall(b"QUIT\r\n")
        ok = first.startswith("220-") and t1 < 1 and last.startswith("220 ") and 5.5 < t2 < 8
        report(f"postscreen {ip}: {first!r} after {t1:.1f} s, {last!r} after {t2:.1f} s", ok,
               "want 220- at once, 220 after ~6 s")
    except Exception as e:  # noqa: BLE001
        report(f"postscreen {ip}", False, repr(e))


def no_default_route():
    out = subprocess.run(["ip", "-4", "route", "show"], capture_output=True, text=True).stdout
    report(f"routes here: {out.strip().splitlines()}", "default" not in out, "want no default route")


def from_namespace(ns):
    """Run this script inside prober namespace NS; return its PASS/FAIL lines (prefixed)."""
    out = subprocess.run(["ip", "netns", "exec", ns, sys.executable, os.path.abspath(__file__),
                          "--from", ns], capture_output=True, text=True, timeout=60)
    lines = [l for l in out.stdout.splitlines() if l.startswith(("PASS ", "FAIL "))]
    if not lines:
        lines = [f"FAIL check.py --from {ns} printed nothing   <-- rc={out.returncode} {out.stderr[-500:]!r}"]
    return [l[:5] + f"[{ns}] " + l[5:] for l in lines]


def tcp(ip, want, timeout=2.0, port=25):
    t = time.monotonic()
    try:
        socket.create_connection((ip, port), timeout).close()
        got = "open"
    except socket.timeout:
        got = "timeout"
    except ConnectionRefusedError:
        got = "refused"
    except OSError as e:
        got = f"error {e}"
    report(f"tcp {ip}:{port} {got} after {(time.monotonic() - t) * 1000:.0f} ms", got == want, f"want {want}")


def greet_pause(ip):
    t = time.monotonic()
    try:
        s, code, msg = connect(ip, timeout=PAUSE + 10)
        dt = time.monotonic() - t
        s.quit()
        report(f"greet-pause {ip}: {code} {msg!r} after {dt:.1f} s", code == 220 and PAUSE - 0.5 < dt < PAUSE + 3,
               f"want 220 after ~{PAUSE} s")
    except Exception as e:  # noqa: BLE001
        report(f"greet-pause {ip}", False, repr(e))


def busy(ip):
    try:
        s, code, msg = connect(ip)
        s.close()
    except smtplib.SMTPConnectError as e:
        code, msg = e.smtp_code, e.smtp_error.decode(errors="replace")
    except Exception as e:  # noqa: BLE001
        code, msg = -1, repr(e)
    report(f"greeting {ip}: {code} {msg!r}", code == 421, "want 421")


def prober_checks(ns):
    """Checks inside a prober namespace: DNS reaches the lab, port 25 as the namespace intends."""
    dns("wan.test", "MX", "NOERROR", "10 mx.wan.test.")
    dns("mx.wan.test", "A", "NOERROR", WAN_GOOD)
    no_default_route()
    if ns == NAT_NS:
        dns("nat.probe.test", "A", "NOERROR", NAT_PUBLIC)
        fcrdns(NAT_PUBLIC, "nat.probe.test")
        banner(WAN_GOOD, r"^mx\.wan\.test ESMTP Postfix", True)
        banner(WAN_EXIM, r"^mx\.natexim\.test ESMTP Exim 4\.9", True)
        banner(WAN_PF, r"^mx\.natpostfix\.test ESMTP Postfix", True)
        tls(WAN_GOOD, "mx.wan.test", "ok")
        tls(WAN_EXIM, "mx.natexim.test", "ok")
        tls(WAN_PF, "mx.natpostfix.test", "ok")
        # we are 192.168.25.2 here; the servers see only the NAT's address
        ehlo_echo(WAN_EXIM, NAT_PUBLIC)
        rcpt(WAN_GOOD, "wan.test", 250)
        rcpt(WAN_EXIM, "natexim.test", 550, f"{NAT_PUBLIC} is not welcome here")
        rcpt(WAN_PF, "natpostfix.test", 550, f"5.7.1 {NAT_PUBLIC} is not welcome here")
        tcp(WAN_CLOSED, "refused")
        mtasts("198.18.25.40", "wan.test", "HTTP/1.1 200 OK text/plain | version: STSv1 mode: testing mx: mx.wan.test")
    elif ns == REJ_NS:
        dns("rej.probe.test", "A", "NOERROR", "198.18.10.2")
        tcp(WAN_GOOD, "refused")       # our own output chain: reject with tcp reset
        tcp(WAN_CLOSED, "refused")
        tcp(WAN_RESOLVER, "open", port=53)
    elif ns == DROP_NS:
        dns("drop.probe.test", "A", "NOERROR", "198.18.11.2")
        tcp(WAN_GOOD, "timeout")       # our own output chain: drop
        tcp(WAN_RESOLVER, "open", port=53)


if FROM:
    prober_checks(FROM)
    failed = results.count(False)
    print(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)

outside = cf.ThreadPoolExecutor(3)
others = [outside.submit(from_namespace, ns) for ns in (NAT_NS, REJ_NS, DROP_NS)]
slow = cf.ThreadPoolExecutor(3)
pending = [slow.submit(greet_pause, "127.0.0.17"), slow.submit(tcp, "127.0.0.30", "timeout"),
           slow.submit(postscreen, "127.0.0.23")]

# DNS shapes of the scenarios
dns("good.test", "MX", "NOERROR", "10 mx1.good.test.")
dns("multi.test", "MX", "NOERROR", "10 mx.filtered.test.", "20 mx1.good.test.")
dns("implicit.test", "MX", "NOERROR")
dns("implicit.test", "A", "NOERROR", "127.0.0.10")
dns("nullmx.test", "MX", "NOERROR", "0 .")
dns("cname-mx.test", "MX", "NOERROR", "10 mail.cname-mx.test.")
dns("mail.cname-mx.test", "A", "NOERROR", "CNAME mx1.good.test.", "127.0.0.10")
dns("host.noaddr.test", "A", "NOERROR")
dns("host.noaddr.test", "AAAA", "NOERROR")
dns("nothere.dangling.test", "A", "NXDOMAIN")
dns("nxdomain.test", "MX", "NXDOMAIN")
dns("servfail.test", "MX", "SERVFAIL")
dns("mx.v6only.test", "AAAA", "NOERROR", "::1")
dns("mx.v6only.test", "A", "NOERROR")
dns("example.com", "A", "NXDOMAIN")  # closed world: the fake root knows only test.
dns("greyfilter.test", "MX", "NOERROR", "10 mx.exim.test.", "20 mx.filtered.test.")
dns("localhost.test", "MX", "NOERROR", "10 localhost.")
dns("busyclosed.test", "MX", "NOERROR", "10 mx.busy.test.", "20 mx.closed.test.")
dns("localhost", "A", "NOERROR", "127.0.0.1")
dns("dnsblfail.test", "MX", "NOERROR", "10 mx1.good.test.")
dns("natexim.test", "MX", "NOERROR", "10 mx.natexim.test.")
# the prober's own identity: what servers see it connect from, with A and PTR agreeing
dns("probe.test", "A", "NOERROR", PROBER)
fcrdns(PROBER, "probe.test")
fcrdns(NAT_PUBLIC, "nat.probe.test")
fcrdns("198.18.10.2", "rej.probe.test")
fcrdns("198.18.11.2", "drop.probe.test")
for ip, name in [("127.0.0.10", "mx1.good.test"), ("127.0.0.11", "mx.bannerlie.test"),
                 ("127.0.0.12", "mx.exim.test"), ("127.0.0.13", "mx.notls.test"),
                 ("127.0.0.14", "mx.tlsfail.test"), ("127.0.0.15", "mx.wrongcert.test"),
                 ("127.0.0.16", "mx.mailrej.test"), ("127.0.0.17", "mx.greetpause.test"),
                 ("127.0.0.18", "mx.listed.test"), ("127.0.0.19", "mx.busy.test"),
                 ("127.0.0.20", "mx.dropmail.test"), ("127.0.0.30", "mx.filtered.test"),
                 ("127.0.0.31", "mx.closed.test"), ("::1", "mx.v6only.test"),
                 ("127.0.0.21", "mx.senderverify.test"), ("127.0.0.22", "mx.relaydefer.test"),
                 ("127.0.0.23", "mx.postscreen.test"), ("127.0.0.24", "mx.exo.test"),
                 ("127.0.0.25", "mx.policylisted.test"), ("127.0.0.26", "mx.senderrej.test"),
                 ("127.0.0.27", "mx.relayrcpt.test"),
                 (WAN_GOOD, "mx.wan.test"), (WAN_EXIM, "mx.natexim.test"),
                 (WAN_PF, "mx.natpostfix.test"), (WAN_CLOSED, "mx.wanclosed.test")]:
    fcrdns(ip, name)
# the sending side (senders.tsv): a generic PTR that resolves back, no PTR, a PTR resolving elsewhere
fcrdns("127.0.0.77", "127-0-0-77.dyn.office.test")
dns(rev("127.0.0.78"), "PTR", "NXDOMAIN")
dns(rev("127.0.0.79"), "PTR", "NOERROR", "noptr.office.test.")
dns("noptr.office.test", "A", "NOERROR", "127.0.0.78")
dns("office.test", "TXT", "NOERROR", "v=spf1 ip4:127.0.0.77 ip4:127.0.0.78 ~all")
# DNSBL: RFC 5782 test points and the one real listing
dns("2.0.0.127.bl.test", "A", "NOERROR", "127.0.0.2")
dns("1.0.0.127.bl.test", "A", "NXDOMAIN")
dns("18.0.0.127.bl.test", "A", "NOERROR", "127.0.0.2")
dns("18.0.0.127.bl.test", "TXT", "NOERROR", "lab blocklist")
dns("10.0.0.127.bl.test", "A", "NXDOMAIN")
dns(rev("::ffff:7f00:2").replace("ip6.arpa", "bl.test"), "A", "NOERROR", "127.0.0.2")
dns(rev("::ffff:7f00:1").replace("ip6.arpa", "bl.test"), "A", "NXDOMAIN")
dns(rev("::1").replace("ip6.arpa", "bl.test"), "A", "NXDOMAIN")
dns("25.0.0.127.zen.spamhaus.org", "A", "NOERROR", "127.0.0.10")  # lab copy: PBL (policy)
dns("25.0.0.127.zen.spamhaus.org", "TXT", "NOERROR", "PBL")
dns("2.0.0.127.zen.spamhaus.org", "A", "NOERROR", "127.0.0.2")
dns("1.0.0.127.zen.spamhaus.org", "A", "NXDOMAIN")
dns("25.0.0.127.bl.test", "A", "NXDOMAIN")
dns("9.0.0.127.bl.test", "A", "NXDOMAIN")                    # the prober is not listed
dns("2.0.0.127.blrefused.test", "A", "SERVFAIL")             # rbldnsd REFUSEs the zone

# mail authentication records (every ordinary domain) and MTA-STS policies served by nginx
dns("exim.test", "TXT", "NOERROR", "v=spf1 ip4:198.51.100.0/24 -all")
dns("_dmarc.exim.test", "TXT", "NOERROR", "v=DMARC1; p=reject; rua=mailto:dmarc@exim.test")
dns("_smtp._tls.exim.test", "TXT", "NOERROR", "v=TLSRPTv1; rua=mailto:tlsrpt@exim.test")
dns("_mta-sts.exim.test", "TXT", "NOERROR", "v=STSv1; id=")
dns("mta-sts.exim.test", "A", "NOERROR", "127.0.0.40")
mtasts("127.0.0.40", "exim.test", "HTTP/1.1 200 OK text/plain | version: STSv1 mode: testing mx: mx.exim.test max_age: 86400")
mtasts("127.0.0.40", "greyfilter.test", "mode: testing mx: mx.exim.test mx: mx.filtered.test max_age")
mtasts("127.0.0.40", "implicit.test", "mode: testing mx: implicit.test max_age")
mtasts("127.0.0.40", "stsgood.test", "mode: enforce mx: mx1.good.test max_age")
mtasts("127.0.0.40", "stsmismatch.test", "mode: enforce mx: mx.stsmismatch.test mx: *.mx.stsmismatch.test max_age")
dns("mta-sts.stswrongcert.test", "A", "NOERROR", "127.0.0.41")
mtasts("127.0.0.41", "stswrongcert.test", "Hostname mismatch")
dns("_mta-sts.localhost.test", "TXT", "NXDOMAIN")                 # publishes no MTA-STS

# DNSSEC (Knot signs ., test., dane*.test except danenosig, bogus.test; Unbound .53 validates from
# the lab root key, .56 does not) and DANE
NOVAL = E("MXLAB_RESOLVER_NOVAL", "127.0.0.56")
dnssec(".", "DNSKEY", "NOERROR", True)
dnssec("test.", "DNSKEY", "NOERROR", True)
dnssec("danegood.test", "MX", "NOERROR", True)
dnssec("_25._tcp.mx.danegood.test", "TLSA", "NOERROR", True)
dnssec("_25._tcp.mx.daneself.test", "TLSA", "NOERROR", True)
dnssec("_25._tcp.mx.danewrong.test", "TLSA", "NOERROR", True)
dnssec("_25._tcp.mx.danenosig.test", "TLSA", "NOERROR", False)    # unsigned: insecure, not bogus
dnssec("good.test", "MX", "NOERROR", False)
dnssec("10.0.0.127.in-addr.arpa", "PTR", "NOERROR", False)
dnssec("2.0.0.127.bl.test", "A", "NOERROR", False)
dnssec("bogus.test", "MX", "SERVFAIL", False)                     # DS matches no key
dnssec("bogus.test", "MX", "NOERROR", False, resolver=NOVAL)      # the non-validating resolver
tlsa("127.0.0.10", "mx.danegood.test", True)
tlsa("127.0.0.28", "mx.daneself.test", True)
tlsa("127.0.0.10", "mx.danewrong.test", False)
tlsa("127.0.0.10", "mx.danenosig.test", True)

# each real server's own greeting
banner("127.0.0.10", r"^mx1\.good\.test ESMTP Postfix", True)
banner("127.0.0.18", r"^mx\.listed\.test ESMTP Postfix", True)
banner("::1", r"^mx\.v6only\.test ESMTP Postfix", True)
banner("127.0.0.11", r"^mx1\.good\.test ESMTP Postfix", True)
banner("127.0.0.15", r"^mx\.wrongcert\.test ESMTP Postfix", True)
banner("127.0.0.16", r"^mx\.mailrej\.test ESMTP Postfix", True)
banner("127.0.0.12", r"^mx\.exim\.test ESMTP Exim 4\.9", True)
banner("127.0.0.13", r"^mx\.notls\.test ESMTP OpenSMTPD", False)
banner("127.0.0.14", r"^mx\.tlsfail\.test ESMTP OpenSMTPD", True)
banner("127.0.0.20", r"^mx\.dropmail\.test ESMTP", False)
busy("127.0.0.19")
banner("127.0.0.21", r"^mx\.senderverify\.test ESMTP Exim 4\.9", True)
banner("127.0.0.22", r"^mx\.relaydefer\.test ESMTP Postfix", True)
banner("127.0.0.24", r"^mx\.exo\.test ESMTP Postfix", True)
banner("127.0.0.25", r"^mx\.policylisted\.test ESMTP Postfix", True)
banner("127.0.0.26", r"^mx\.senderrej\.test ESMTP Postfix", True)
banner("127.0.0.27", r"^mx\.relayrcpt\.test ESMTP Postfix", True)
banner("127.0.0.28", r"^mx\.daneself\.test ESMTP Postfix", True)
# clients in mxlab connect from the prober's address (local routes' preferred source)
ehlo_echo("127.0.0.12", PROBER)
ehlo_echo("127.0.0.21", PROBER)

# certificates, verified with the lab CA against the MX host name
tls("127.0.0.10", "mx1.good.test", "ok")
tls("127.0.0.10", "implicit.test", "ok")
tls("127.0.0.10", "mail.cname-mx.test", "ok")
tls("127.0.0.18", "mx.listed.test", "ok")
tls("::1", "mx.v6only.test", "ok")
tls("127.0.0.11", "mx.bannerlie.test", "ok")
tls("127.0.0.16", "mx.mailrej.test", "ok")
tls("127.0.0.12", "mx.exim.test", "ok")
tls("127.0.0.15", "mx.wrongcert.test", "Hostname mismatch")
tls("127.0.0.14", "mx.tlsfail.test", "SSLError")  # OpenSMTPD 6.8 + OpenSSL 3: handshake fails
tls("127.0.0.21", "mx.senderverify.test", "ok")
tls("127.0.0.22", "mx.relaydefer.test", "ok")
tls("127.0.0.24", "mx.exo.test", "ok")
tls("127.0.0.25", "mx.policylisted.test", "ok")
tls("127.0.0.26", "mx.senderrej.test", "ok")
tls("127.0.0.27", "mx.relayrcpt.test", "ok")
tls("127.0.0.10", "mx.danegood.test", "ok")
tls("127.0.0.28", "mx.daneself.test", "self-signed certificate")

# the SMTP transaction of each scenario
rcpt("127.0.0.10", "good.test", 250)
rcpt("127.0.0.10", "implicit.test", 250)
rcpt("127.0.0.10", "cname-mx.test", 250)
rcpt("127.0.0.10", "multi.test", 250)
rcpt("127.0.0.18", "listed.test", 250)
rcpt("::1", "v6only.test", 250)
rcpt("127.0.0.10", "relay.test", 554, "Relay access denied")
rcpt("127.0.0.11", "bannerlie.test", 250)
rcpt("127.0.0.15", "wrongcert.test", 250)
rcpt("127.0.0.16", "mailrej.test", 554, "Sender address rejected", stage="MAIL")
rcpt("127.0.0.16", "mailrej.test", 554, "<>: Sender address rejected", stage="MAIL", sender="")
rcpt("127.0.0.12", "exim.test", 250)
rcpt("127.0.0.12", "nopostmaster.test", 550, "unknown user")
rcpt("127.0.0.12", "tempfail.test", 452, "4.3.1 Insufficient system storage")
rcpt("127.0.0.12", "greylist.test", 451, "4.7.1 greylisted, please try again later")
rcpt("127.0.0.12", "greyfilter.test", 451, "greylisted")
rcpt("127.0.0.21", "senderverify.test", 250)
rcpt("127.0.0.21", "senderverify.test", 550,
     "Verification failed for <postmaster@nowhere.invalid> / Unrouteable address / Sender verify failed",
     sender="postmaster@nowhere.invalid")
rcpt("127.0.0.21", "senderverify.test", 250, sender="")
rcpt("127.0.0.22", "relaydefer.test", 454, "4.7.1 <postmaster@relaydefer.test>: Relay access denied")
rcpt("127.0.0.24", "exo.test", 550, "5.4.1 Recipient address rejected: Access denied. For more information")
rcpt("127.0.0.25", "policylisted.test", 250)
rcpt("127.0.0.26", "senderrej.test", 250)
rcpt("127.0.0.26", "senderrej.test", 550, "5.1.8 <postmaster@nowhere.invalid>: Sender address rejected: Domain not found",
     sender="postmaster@nowhere.invalid")
rcpt("127.0.0.26", "senderrej.test", 250, sender="")
rcpt("127.0.0.10", "dnsblfail.test", 250)
rcpt("127.0.0.27", "relayrcpt.test", 550, "5.1.1 <postmaster@relayrcpt.test>: Recipient address rejected: User unknown in relay recipient table")
rcpt("127.0.0.12", "example.org", 550, "relay not permitted")
rcpt("127.0.0.13", "notls.test", 250)
rcpt("127.0.0.14", "tlsfail.test", 250)
rcpt("127.0.0.20", "dropmail.test", 0, "disconnected", stage="MAIL")
tcp("127.0.0.31", "refused")
rcpt("127.0.0.10", "stsgood.test", 250)
rcpt("127.0.0.10", "danegood.test", 250)
rcpt("127.0.0.28", "daneself.test", 250)
fcrdns("127.0.0.28", "mx.daneself.test")

for f in pending:
    f.result()
for f in others:
    for line in f.result():
        print(line, flush=True)
        results.append(line.startswith("PASS "))
failed = results.count(False)
print(f"{len(results) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
