"""The local AWS emulator for scripts/emulator.ts: moto's threaded server on HOST:PORT, which exits by
itself when the process that started it goes away (a killed test run leaves no server behind)."""
import os
import sys
import time

from moto.server import ThreadedMotoServer

host, port = sys.argv[1], int(sys.argv[2])
parent = os.getppid()
server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
server.start()
try:
    while os.getppid() == parent:
        time.sleep(0.5)
finally:
    server.stop()
