"""`python -m gateway.sim` runs the simulator alone (the same as `gateway sim`)."""

from __future__ import annotations

import argparse

from gateway.sim.cli import add_arguments, run


def main() -> None:
    parser = argparse.ArgumentParser(prog="gateway sim", description="Offline OpenRouter simulator")
    add_arguments(parser)
    run(parser.parse_args())


if __name__ == "__main__":
    main()
