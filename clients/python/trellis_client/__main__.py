"""Command line: ``python -m trellis_client check|watch --server HOST:PORT --ca CA.pem``.

Exit codes: 0 SERVING (check) or a watch that ended normally; 1 a failed call or
connection; 2 bad usage; 3 the server answered with a status other than SERVING.
"""

from __future__ import annotations

import argparse
import sys

from .client import Client
from .status import RpcError


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m trellis_client")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, summary in (
        ("check", "print the serving status once"),
        ("watch", "print the serving status now and on every change"),
    ):
        sub = commands.add_parser(name, help=summary)
        sub.add_argument("--server", required=True, type=_address, help="HOST:PORT")
        sub.add_argument("--ca", required=True, help="the CA certificate to trust (PEM)")
        sub.add_argument("--service", default="", help="a service name; empty: the server")
        sub.add_argument("--server-name", help="the name to verify in the server certificate")
        sub.add_argument("--token", help="a bearer token")
        sub.add_argument("--token-file", help="a file holding a bearer token")
        sub.add_argument(
            "--timeout", type=float, default=10.0 if name == "check" else None,
            help="seconds (check: 10; watch: none)",
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    token = args.token
    if args.token_file:
        with open(args.token_file, encoding="utf-8") as f:
            token = f.read().strip()
    host, port = args.server
    try:
        client = Client(host, port, args.ca, token=token, server_name=args.server_name,
                        timeout=args.timeout)
    except (OSError, ValueError) as error:
        print(f"trellis_client: {error}", file=sys.stderr)
        return 2
    try:
        if args.command == "check":
            status = client.health_check(args.service)
            print(status, flush=True)
            return 0 if status == "SERVING" else 3
        with client.health_watch(args.service, timeout=args.timeout) as watch:
            for status in watch:
                print(status, flush=True)
        return 0
    except RpcError as error:
        print(f"trellis_client: {error.code.name}: {error.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
