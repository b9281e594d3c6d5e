"""`python -m extproc.fake_provider [--host H] [--port P] [fault flags]`."""

from __future__ import annotations

import argparse
import logging
import sys

from extproc.fake_provider import add_arguments, config_from_args, run


def main(argv: list[str] | None = None) -> int:
    """main parses the flags and runs the fake provider until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="python -m extproc.fake_provider", description=__doc__)
    add_arguments(parser)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    run(config_from_args(args), args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
