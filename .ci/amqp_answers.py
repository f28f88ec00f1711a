"""Exit 0 when an AMQP broker at HOST:PORT answers the protocol header with Connection.Start, else 1 (stdlib only)."""

import socket
import sys

host, port = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"), int(sys.argv[2] if len(sys.argv) > 2 else 5672)
try:
    with socket.create_connection((host, port), timeout=10) as conn:
        conn.sendall(b"AMQP\x00\x00\x09\x01")
        frame = conn.recv(7)
except OSError:
    sys.exit(1)
sys.exit(0 if len(frame) == 7 and frame[0] == 1 else 1)  # 1: a method frame (Connection.Start)
