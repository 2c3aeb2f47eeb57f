"""moto's DynamoDB server, serving one request at a time.

moto (5.2) applies TransactWriteItems without isolation: it snapshots the
table, applies the writes one by one, and on a failed condition restores
the snapshot. Under its default threaded server two concurrent
transactions interleave, and a refused one can restore a snapshot taken
before the other committed, erasing a committed write. Real DynamoDB
serializes transactions, which is what the Lambda's conditional commits
rely on; serving requests one at a time restores that here.

Usage: python3 moto_serial.py -H 127.0.0.1 -p PORT  (the venv's python).
"""

import argparse

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.server import MotoRequestHandler
from werkzeug.serving import run_simple


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, app, threaded=False, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
