"""The emulator's process: ``python -m ami_usage_emulator --port PORT`` (what ``scripts/emulator`` runs).

Builds the ``World`` and the WSGI app over it, serves 127.0.0.1:PORT with werkzeug's
threaded server and HTTP/1.1 keep-alive (``keep_alive.py``), and builds moto's
per-service apps in the background meanwhile.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time

from werkzeug.serving import make_server

from .app import EmulatorApp
from .keep_alive import KeepAliveRequestHandler
from .world import World

DESCRIPTION = "WSGI wrapper around moto's server, and the ``python -m ami_usage_emulator`` entry point."


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ami_usage_emulator", description=DESCRIPTION)
    parser.add_argument("--port", type=int, default=int(os.environ.get("EMULATOR_PORT", "5000")))
    parser.add_argument("--quiet", action="store_true", help="no per-request access log")
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))  # moto builds some URLs from it
    started = time.monotonic()
    app = EmulatorApp(World())
    server = make_server("127.0.0.1", args.port, app, threaded=True, request_handler=KeepAliveRequestHandler)
    if args.quiet:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    threading.Thread(target=app.warm_up, name="warm-up", daemon=True).start()
    print(
        f"ami-usage emulator listening on http://127.0.0.1:{args.port} (ready in {time.monotonic() - started:.2f}s)",
        file=sys.stderr,
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
