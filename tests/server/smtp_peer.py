#!/usr/bin/python3
"""A real SMTP server on loopback for the delivery tests (Debian's python3-aiosmtpd).

    smtp_peer.py --port P --dir D [--fail-first N] [--reject ADDR ...]
                 [--auth USER:PASSWORD] [--tls-cert CERT --tls-key KEY [--smtps]]

Listens on 127.0.0.1:P (P = 0: a free port, printed first as "port <P>"), then prints "ready"
on its own line and serves until killed (SIGTERM or SIGINT). Each accepted message is written to
D as NNNN.eml (the bytes as received, CRLF line ends) with NNNN.json beside it:
{"mail_from", "rcpt_tos", "peer": [host, port], "connection": n, "tls": bool, "login": str}
(the client's address and the connection's number tell which messages shared a connection).
D/log.jsonl gets a line per happening, with its time: {"at", "event": "connect" | "rcpt_rejected" |
"data_failed" | "data_ok", ...}; a message refused with 451 is kept in D/failed/ (so a test can
compare it with the retry: same Message-ID).
D/connections holds the number of SMTP connections so far (those that said EHLO or HELO; the
readiness probe of aiosmtpd's Controller says neither). Each file appears whole (written, then
renamed) before the server answers 250, so a client that got 250 can read it at once.

--fail-first N  answers "451 4.3.0" to the first N messages (after their data), then accepts.
--reject ADDR   answers "550 5.1.1" to RCPT TO:<ADDR> (repeatable); other recipients pass.
--auth U:P      requires AUTH (PLAIN or LOGIN) as U with password P (allowed without TLS).
--tls-cert, --tls-key  offer STARTTLS with this PEM certificate and key;
--smtps         with them: TLS from the first byte instead (smtps://).

Standard library and aiosmtpd only; run it with /usr/bin/python3 (the python3 on PATH may be
another interpreter without aiosmtpd).
"""

import argparse
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import warnings

import ssl

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


def write_whole(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class Peer:
    def __init__(self, folder, fail_first, reject):
        self.folder = folder
        self.fail_left = fail_first
        self.reject = {a.lower() for a in reject}
        self.seen = {}  # client (host, port) -> connection number
        self.messages = 0
        self.lock = threading.Lock()
        write_whole(os.path.join(folder, "connections"), b"0\n")

    def log(self, event, **fields):
        with self.lock, open(os.path.join(self.folder, "log.jsonl"), "a", encoding="utf-8") as f:
            f.write(json.dumps(dict(at=time.time(), event=event, **fields)) + "\n")

    # A connection is a client address; EHLO again after STARTTLS is the same connection (aiosmtpd
    # starts a new session there), and the Controller's readiness probe never says EHLO.
    def _count_connection(self, session):
        with self.lock:
            if session.peer not in self.seen:
                self.seen[session.peer] = len(self.seen) + 1
                write_whole(os.path.join(self.folder, "connections"), b"%d\n" % len(self.seen))
                new = len(self.seen)
            else:
                new = None
            session.closeloop_connection = self.seen[session.peer]
        if new:
            self.log("connect", peer=list(session.peer), n=new)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        self._count_connection(session)
        session.host_name = hostname
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        self._count_connection(session)
        session.host_name = hostname
        return "250 {}".format(server.hostname)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            self.log("rcpt_rejected", address=address, mail_from=envelope.mail_from)
            return "550 5.1.1 <{}>: mailbox unavailable".format(address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        with self.lock:
            fail = self.fail_left > 0
            if fail:
                self.fail_left -= 1
            else:
                self.messages += 1
                number = self.messages
        if fail:
            os.makedirs(os.path.join(self.folder, "failed"), exist_ok=True)
            write_whole(os.path.join(self.folder, "failed", "%.6f.eml" % time.time()), content)
            self.log("data_failed", mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos))
            return "451 4.3.0 try again later"
        stem = os.path.join(self.folder, "%04d" % number)
        write_whole(stem + ".eml", content)
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "peer": list(session.peer) if session.peer else None,
            "connection": getattr(session, "closeloop_connection", None),
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "login": session.auth_data.decode("utf-8") if isinstance(session.auth_data, bytes) else None,
        }
        write_whole(stem + ".json", json.dumps(meta).encode("utf-8"))
        self.log("data_ok", number=number, mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos))
        return "250 OK queued as %04d" % number


def authenticator(expected_user, expected_password):
    def check(server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = auth_data.login.decode() == expected_user and auth_data.password.decode() == expected_password
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)
    return check


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    parser = argparse.ArgumentParser(description="SMTP server on loopback for the delivery tests")
    parser.add_argument("--port", type=int, required=True, help="0: pick a free port and print it")
    parser.add_argument("--dir", required=True, help="where messages are written")
    parser.add_argument("--fail-first", type=int, default=0, help="answer 451 to the first N messages")
    parser.add_argument("--reject", action="append", default=[], metavar="ADDR",
                        help="answer 550 to this recipient (repeatable)")
    parser.add_argument("--auth", metavar="USER:PASSWORD", help="require AUTH with these credentials")
    parser.add_argument("--tls-cert", help="PEM certificate: offer STARTTLS (or SMTPS with --smtps)")
    parser.add_argument("--tls-key", help="PEM private key of --tls-cert")
    parser.add_argument("--smtps", action="store_true", help="implicit TLS instead of STARTTLS")
    args = parser.parse_args()

    # AUTH without TLS is what the tests want, and failed handshakes are what some provoke:
    # aiosmtpd would warn about the one on every start and print a traceback for each other.
    warnings.simplefilter("ignore")
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    os.makedirs(args.dir, exist_ok=True)
    port = args.port or free_port()
    peer = Peer(args.dir, args.fail_first, args.reject)
    # decode_data=False: keep the bytes as received, so tests see exactly what was sent.
    options = {"decode_data": False}
    if args.auth:
        user, _, password = args.auth.partition(":")
        options.update(authenticator=authenticator(user, password), auth_required=True, auth_require_tls=False)
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        if args.smtps:
            options["ssl_context"] = context
        else:
            options["tls_context"] = context
    controller = Controller(peer, hostname="127.0.0.1", port=port, **options)
    controller.start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if not args.port:
        print("port %d" % port)
    print("ready", flush=True)
    stop.wait()
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
