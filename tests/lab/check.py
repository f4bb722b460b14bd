#!/usr/bin/python3
"""Smoke checks of the interop lab, independent of mailcheck. Run inside the lab namespace
(tests/lab/check.sh does that). Prints one line per check, then "N passed, N failed";
exits 1 if anything failed. Slow checks (greet-pause, filtered port) run in parallel."""
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

RESOLVER = os.environ.get("MXLAB_RESOLVER", "127.0.0.53")
CA = os.environ.get("MXLAB_CA", "/run/mxlab/tls/ca.pem")
PAUSE = float(os.environ.get("MXLAB_GREET_PAUSE", "11"))
HELO = "probe.lab.test"
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


def rcpt(ip, domain, want_code, want_text="", stage="RCPT"):
    """EHLO, STARTTLS if offered (unverified), MAIL FROM, RCPT TO:<postmaster@domain>."""
    try:
        s, _, _ = connect(ip)
        s.ehlo(HELO)
        if s.has_extn("starttls") and ip != "127.0.0.14":
            ctx = ssl._create_unverified_context()
            s.starttls(context=ctx)
            s.ehlo(HELO)
        code, msg = s.mail("probe@lab.test")
        if stage == "RCPT" and code < 400:
            code, msg = s.rcpt(f"postmaster@{domain}")
        s.quit()
        msg = msg.decode(errors="replace")
    except smtplib.SMTPServerDisconnected as e:
        code, msg = 0, f"disconnected: {e}"
    except Exception as e:  # noqa: BLE001
        code, msg = -1, repr(e)
    report(f"smtp {ip} {stage} postmaster@{domain} -> {code} {msg!r}",
           code == want_code and want_text in msg, f"want {want_code} {want_text!r}")


def tcp(ip, want, timeout=2.0):
    t = time.monotonic()
    try:
        socket.create_connection((ip, 25), timeout).close()
        got = "open"
    except socket.timeout:
        got = "timeout"
    except ConnectionRefusedError:
        got = "refused"
    report(f"tcp {ip}:25 {got} after {(time.monotonic() - t) * 1000:.0f} ms", got == want, f"want {want}")


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


slow = cf.ThreadPoolExecutor(2)
pending = [slow.submit(greet_pause, "127.0.0.17"), slow.submit(tcp, "127.0.0.30", "timeout")]

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
for ip, name in [("127.0.0.10", "mx1.good.test"), ("127.0.0.11", "mx.bannerlie.test"),
                 ("127.0.0.12", "mx.exim.test"), ("127.0.0.13", "mx.notls.test"),
                 ("127.0.0.14", "mx.tlsfail.test"), ("127.0.0.15", "mx.wrongcert.test"),
                 ("127.0.0.16", "mx.mailrej.test"), ("127.0.0.17", "mx.greetpause.test"),
                 ("127.0.0.18", "mx.listed.test"), ("127.0.0.19", "mx.busy.test"),
                 ("127.0.0.20", "mx.dropmail.test"), ("127.0.0.30", "mx.filtered.test"),
                 ("127.0.0.31", "mx.closed.test"), ("::1", "mx.v6only.test")]:
    fcrdns(ip, name)
# DNSBL: RFC 5782 test points and the one real listing
dns("2.0.0.127.bl.test", "A", "NOERROR", "127.0.0.2")
dns("1.0.0.127.bl.test", "A", "NXDOMAIN")
dns("18.0.0.127.bl.test", "A", "NOERROR", "127.0.0.2")
dns("18.0.0.127.bl.test", "TXT", "NOERROR", "lab blocklist")
dns("10.0.0.127.bl.test", "A", "NXDOMAIN")
dns(rev("::ffff:7f00:2").replace("ip6.arpa", "bl.test"), "A", "NOERROR", "127.0.0.2")
dns(rev("::ffff:7f00:1").replace("ip6.arpa", "bl.test"), "A", "NXDOMAIN")
dns(rev("::1").replace("ip6.arpa", "bl.test"), "A", "NXDOMAIN")

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
rcpt("127.0.0.12", "exim.test", 250)
rcpt("127.0.0.12", "nopostmaster.test", 550, "unknown user")
rcpt("127.0.0.12", "tempfail.test", 451, "greylisted")
rcpt("127.0.0.12", "example.org", 550, "relay not permitted")
rcpt("127.0.0.13", "notls.test", 250)
rcpt("127.0.0.14", "tlsfail.test", 250)
rcpt("127.0.0.20", "dropmail.test", 0, "disconnected", stage="MAIL")
tcp("127.0.0.31", "refused")

for f in pending:
    f.result()
failed = results.count(False)
print(f"{len(results) - failed} passed, {failed} failed")
sys.exit(1 if failed else 0)
