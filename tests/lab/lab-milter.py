#!/usr/bin/python3
"""Scripted RCPT replies for the lab's Postfix B, as a milter (Debian's python3-milter).

Postfix prefixes the replies of its own restrictions ("<addr>: Recipient address rejected: ...");
a milter's reply reaches the client verbatim. So the scenarios that need an exact foreign text get
it from here, chosen by the address the client connected to ({daemon_addr}):

  127.0.0.24   (mx.exo.test)         RCPT TO:<postmaster@…> → Exchange Online's 550 5.4.1 Access denied
  198.18.25.13 (mx.natpostfix.test)  any RCPT → 550 5.7.1 <client IP> is not welcome here (names only the IP)

Everything else is accepted. Usage: lab-milter.py inet:PORT@HOST (up.sh starts it inside mxlab).
"""
import sys
import threading

import Milter

EXO = ("Recipient address rejected: Access denied. For more information see "
       "https://aka.ms/EXOSmtpErrors [AM0PR01MB0000.eurprd01.prod.exchangelabs.com]")


class LabMilter(Milter.Base):
    def __init__(self):
        self.daemon = ""
        self.client = ""

    def connect(self, hostname, family, hostaddr):
        self.daemon = self.getsymval("{daemon_addr}") or ""
        self.client = hostaddr[0] if hostaddr else ""
        return Milter.CONTINUE

    def envrcpt(self, to, *params):
        rcpt = to.strip("<>").lower()
        if self.daemon == "127.0.0.24" and rcpt.startswith("postmaster@"):
            self.setreply("550", "5.4.1", EXO)
            return Milter.REJECT
        if self.daemon == "198.18.25.13":
            # Postfix insists on an enhanced status code in a milter's reply
            self.setreply("550", "5.7.1", f"{self.client} is not welcome here")
            return Milter.REJECT
        return Milter.CONTINUE


def main():
    Milter.factory = LabMilter
    Milter.set_flags(0)
    # libmilter blocks SIGTERM in its own threads and stops slowly (~4 s) when it gets it. Run it
    # in a thread of its own: the main thread leaves SIGTERM unblocked, so down.sh's TERM ends the
    # process at once.
    t = threading.Thread(target=Milter.runmilter, args=("mxlab", sys.argv[1], 60), daemon=True)
    t.start()
    t.join()


if __name__ == "__main__":
    main()
