"""The local AWS emulator for scripts/emulator.ts: moto's server app on HOST:PORT, with what the project adds
to it (scripts/emulator/s3_object_encryption.py: UpdateObjectEncryption, SSE-C objects). It exits by itself
when the process that started it goes away (a killed test run leaves no server behind)."""
import os
import sys
import threading
import time

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "emulator"))
from s3_object_encryption import S3ObjectEncryption  # noqa: E402

host, port = sys.argv[1], int(sys.argv[2])
parent = os.getppid()
server = make_server(host, port, S3ObjectEncryption(DomainDispatcherApplication(create_backend_app)), threaded=True)
threading.Thread(target=server.serve_forever, daemon=True).start()
try:
    while os.getppid() == parent:
        time.sleep(0.5)
finally:
    server.shutdown()
