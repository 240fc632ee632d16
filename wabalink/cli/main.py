"""The `wabalink` command. Sub-commands import their code lazily so the CLI starts fast."""

from __future__ import annotations

import sys

USAGE = """usage: wabalink <command> [options]

commands:
  serve              run the socialmessaging API, the Meta simulator and its sandbox
  meta ...           the Meta simulator's sandbox (create WABAs, mint tokens, inject faults)
  socialmessaging    AWS-CLI-compatible commands for every socialmessaging operation
  events ...         the event log: list, tail and replay events bound for event destinations
"""


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] in ("-h", "--help", "help"):
        print(USAGE, end="")
        return 0
    command, rest = args[0], args[1:]
    if command == "serve":
        from wabalink.server.main import main as serve_main
        return serve_main(rest)
    if command == "meta":
        from wabalink.cli.meta import main as meta_main
        return meta_main(rest)
    if command == "events":
        from wabalink.cli.events import main as events_main
        return events_main(rest)
    if command == "socialmessaging":
        from wabalink.cli.aws.command import main as socialmessaging_main
        return socialmessaging_main(rest)
    if command == "--version":
        from wabalink import __version__
        print(f"wabalink {__version__}")
        return 0
    print(USAGE, end="", file=sys.stderr)
    print(f"wabalink: unknown command {command!r}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
