#!/usr/bin/env python3
"""Floods the Passport nexus with the largest RST.srf body it accepts (64 KiB of start tags),
from THREADS connections for SECONDS: usage nexus-flood.py HOST PORT SECONDS THREADS.
Run it beside yard-bench to see whether another protocol notices (BENCHMARKS.md)."""
host, port, seconds, threads = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
# The largest body the nexus accepts (64 KiB), all tags: the shape that was quadratic before.
tag = b"<wsse:Security>"
body = (tag * (65536 // len(tag)))[:65536 - 100]
body = b"<?xml version=\"1.0\"?><Envelope>" + body
head = b"POST /RST.srf HTTP/1.1\r\nHost: localhost\r\nContent-Length: %d\r\n\r\n" % len(body)
count = [0]
def run():
    end = time.time() + seconds
    while time.time() < end:
        try:
            s = socket.create_connection((host, port))
            s.sendall(head + body)
            while s.recv(65536):
                pass
            s.close()
            count[0] += 1
        except OSError:
            time.sleep(0.01)
ts = [threading.Thread(target=run) for _ in range(threads)]
[t.start() for t in ts]; [t.join() for t in ts]
print(f"flood: {count[0]} requests of {len(head)+len(body)} bytes in {seconds} s ({count[0]/seconds:.0f}/s)")
