#!/usr/bin/python3
"""A real SMTP server on loopback for the delivery tests (Debian's python3-aiosmtpd).

    smtp_peer.py --port P --dir D [--fail-first N] [--reject ADDR ...]

Listens on 127.0.0.1:P (P = 0: a free port, printed first as "port <P>"), then prints "ready"
on its own line and serves until killed (SIGTERM or SIGINT). Each accepted message is written to
D as NNNN.eml (the bytes as received, CRLF line ends) with NNNN.json beside it:
{"mail_from", "rcpt_tos", "peer": [host, port], "connection": n} -- the client's port and
the connection's number tell which messages shared a connection. D/connections holds the
number of SMTP connections so far (those that said EHLO or HELO; the readiness probe of
aiosmtpd's Controller says neither). Each file appears whole (written, then renamed) before
the server answers 250, so a client that got 250 can read it at once.

--fail-first N  answers "451 4.3.0" to the first N messages (after their data), then accepts.
--reject ADDR   answers "550 5.1.1" to RCPT TO:<ADDR> (repeatable); other recipients pass.

Standard library and aiosmtpd only; run it with /usr/bin/python3 (the python3 on PATH may be
another interpreter without aiosmtpd).
"""

import argparse
import json
import os
import signal
import socket
import sys
import threading

from aiosmtpd.controller import Controller


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
        self.connections = 0
        self.messages = 0
        self.lock = threading.Lock()
        write_whole(os.path.join(folder, "connections"), b"0\n")

    def _count_connection(self, session):
        if getattr(session, "closeloop_connection", None) is None:
            with self.lock:
                self.connections += 1
                session.closeloop_connection = self.connections
                write_whole(os.path.join(self.folder, "connections"), b"%d\n" % self.connections)

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
            return "550 5.1.1 <{}>: mailbox unavailable".format(address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.fail_left > 0:
                self.fail_left -= 1
                return "451 4.3.0 try again later"
            self.messages += 1
            number = self.messages
        stem = os.path.join(self.folder, "%04d" % number)
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        write_whole(stem + ".eml", content)
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "peer": list(session.peer) if session.peer else None,
            "connection": getattr(session, "closeloop_connection", None),
        }
        write_whole(stem + ".json", json.dumps(meta).encode("utf-8"))
        return "250 OK queued as %04d" % number


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
    args = parser.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    port = args.port or free_port()
    peer = Peer(args.dir, args.fail_first, args.reject)
    # decode_data=False: keep the bytes as received, so tests see exactly what was sent.
    controller = Controller(peer, hostname="127.0.0.1", port=port, decode_data=False)
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
