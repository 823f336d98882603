#!/usr/bin/python3
"""A real SMTP server on loopback for the delivery tests (Debian's python3-aiosmtpd).

    smtp_peer.py --port P --dir D [--fail-first N] [--reject ADDR ...]

Prints "ready" once it listens. Each accepted message is stored in D as NNNNN.eml (the bytes
as received) with NNNNN.json beside it (the envelope: mail_from, rcpt_tos, received_at); the
.eml appears only when complete (written aside, then renamed). D/log.jsonl gets one line per
happening: connect, rcpt_rejected, data_failed, data_ok; D/connections holds the number of
connections so far (a sender that reuses its connection opens few).

--fail-first N answers "451 4.3.0 try again" to the first N DATA commands (a greylisting or
overloaded server; what it refused is kept in D/failed/); --reject ADDR answers "550 5.1.1 no
such user" at RCPT for that address (a permanent failure: the sender must not try again). Stops on SIGTERM or SIGINT."""
import argparse, json, os, signal, sys, threading, time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP


class Peer:
    def __init__(self, folder, fail_first, reject):
        self.folder, self.fail_left = folder, fail_first
        self.reject = {a.lower() for a in reject}
        self.seq = self.connections = 0
        self.counting = False  # Controller.start() connects once to itself: not a client
        self.lock = threading.Lock()

    def log(self, event, **fields):
        with open(os.path.join(self.folder, "log.jsonl"), "a", encoding="utf-8") as f:
            f.write(json.dumps(dict(at=time.time(), event=event, **fields)) + "\n")

    def connected(self, peer):
        if not self.counting:
            return
        with self.lock:
            self.connections += 1
            n = self.connections
        tmp = os.path.join(self.folder, "connections.tmp")
        with open(tmp, "w") as f:
            f.write(f"{n}\n")
        os.replace(tmp, os.path.join(self.folder, "connections"))
        self.log("connect", peer=str(peer), n=n)

    # ---- aiosmtpd handler hooks ----------------------------------------------------------

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.reject:
            self.log("rcpt_rejected", address=address, mail_from=envelope.mail_from)
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            fail = self.fail_left > 0
            if fail:
                self.fail_left -= 1
            else:
                self.seq += 1
                seq = self.seq
        if fail:
            # Kept aside (not *.eml) so a test can compare it with the retry (same Message-ID).
            failed = os.path.join(self.folder, "failed")
            os.makedirs(failed, exist_ok=True)
            with open(os.path.join(failed, f"{time.time():.6f}.eml"), "wb") as f:
                f.write(envelope.original_content or envelope.content)
            self.log("data_failed", mail_from=envelope.mail_from, rcpt_tos=envelope.rcpt_tos)
            return "451 4.3.0 try again"
        base = os.path.join(self.folder, f"{seq:05d}")
        with open(base + ".json", "w", encoding="utf-8") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos, "received_at": time.time()}, f)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        os.replace(base + ".eml.tmp", base + ".eml")
        self.log("data_ok", seq=seq, mail_from=envelope.mail_from, rcpt_tos=envelope.rcpt_tos)
        return "250 2.0.0 Message accepted"


class CountingSMTP(SMTP):
    """aiosmtpd's SMTP session, telling the peer about each new connection."""

    def __init__(self, handler, peer, **kw):
        super().__init__(handler, **kw)
        self._peer = peer

    def connection_made(self, transport):
        super().connection_made(transport)
        self._peer.connected(transport.get_extra_info("peername"))


class PeerController(Controller):
    def __init__(self, peer, **kw):
        self._peer = peer
        super().__init__(peer, **kw)

    def factory(self):
        return CountingSMTP(self.handler, self._peer, **self.SMTP_kwargs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--reject", nargs="*", default=[], metavar="ADDR")
    args = ap.parse_args()
    os.makedirs(args.dir, exist_ok=True)
    peer = Peer(args.dir, args.fail_first, args.reject)
    # decode_data=False keeps the bytes as sent (8-bit or not), so the test parses what the
    # sender wrote, not a re-encoding of it.
    controller = PeerController(peer, hostname="127.0.0.1", port=args.port, decode_data=False,
                                data_size_limit=10 * 1024 * 1024)
    controller.start()
    peer.counting = True
    with open(os.path.join(args.dir, "connections"), "w") as f:
        f.write("0\n")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print("ready", flush=True)
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    sys.exit(main())
