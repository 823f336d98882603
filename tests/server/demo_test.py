#!/usr/bin/python3
"""The README's walk-through (ci/demo.py) against the real binary: it runs to the end twice
(the second time finds what the first made) and prints for each tier what DOMAIN.md's
recovery scenario does. Usage: demo_test.py PATH/TO/closeloop"""
import os, re, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Checks, Server

closeloop = sys.argv[1]
DEMO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "ci", "demo.py")
t = Checks("demo test")

EXPECTED = {  # contact -> (segment, run status, last node of the path, what it got)
    "demo-0": ("Lost", "done", "mail_plain", "e-mail nps-apology (pending)"),
    "demo-2": ("Hibernating", "done", "mail_plain", "e-mail nps-apology (pending)"),
    "demo-4": ("Need Attention", "waiting", "wait_expiry", "e-mail nps-apology-voucher (pending)"),
    "demo-5": ("Need Attention", "done", "mail_plain", "e-mail nps-apology (pending)"),  # voucher 91 days ago
    "demo-6": ("Loyal", "done", "call", "task for the call centre"),
    "demo-9": ("Champions", "done", "call", "task for the call centre"),
    "demo-new": ("(none)", "waiting", "wait_expiry", "voucher "),
}

with tempfile.TemporaryDirectory() as tmp:
    s = Server(closeloop, os.path.join(tmp, "data"))
    t.check("server starts", s.start())
    for attempt in ("first", "second"):
        out = subprocess.run([sys.executable, DEMO, "--url", f"http://127.0.0.1:{s.port}", "--key", s.key],
                             capture_output=True, text=True, timeout=120)
        t.check(f"{attempt} run of the demo ends well", out.returncode == 0, out.stderr + out.stdout[-2000:])
        for contact, (segment, status, last, what) in EXPECTED.items():
            line = next((l for l in out.stdout.splitlines() if l.strip().startswith(contact + " ")), "")
            ok = (re.search(rf"\b{re.escape(contact)}\s+{re.escape(segment)}\s+{status}\s", line) is not None
                  and f"> {last}" in line and what in line)
            t.check(f"{attempt} run: {contact} ({segment}) {status} at {last}, {what.strip()}", ok, line)
    s.stop()
t.finish()
