"""The ``convcore`` command line: one subcommand per module, each with add_arguments(parser) and run(args)."""
import argparse
import importlib
import sys

from . import __version__

# name -> (module, one-line help). Modules are imported only when their command runs.
COMMANDS = {
    "info": ("convcore._config", "print the build and runtime configuration"),
    "filter": ("convcore.filters._cli", "filter an image (PNG/JPEG via Pillow) with a ready kernel"),
    "demo": ("convcore.demo", "the lecture's workflow: filters, then a CNN telling protons from other particles"),
    "search": ("convcore.sklearn._cli", "choose an architecture: randomized search on the detector events (dask with --scheduler)"),
}


def build_parser():
    parser = argparse.ArgumentParser(prog="convcore", description="convcore command line")
    parser.add_argument("--version", action="version", version=f"convcore {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(_module=module)
        importlib.import_module(module).add_arguments(p)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.error(f"choose a COMMAND: {', '.join(COMMANDS)}")   # usage on stderr, exit 2
    return importlib.import_module(args._module).run(args)


if __name__ == "__main__":
    sys.exit(main())
