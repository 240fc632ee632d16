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


COMMANDS = ("serve", "meta", "socialmessaging")
RC_USAGE = 252  # AWS CLI v2's exit code for usage errors


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:  # like `aws` alone: a usage error
        return _usage_error("the following arguments are required: command")
    if args[0] in ("-h", "--help", "help"):
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
    from wabalink.cli.aws.command import invalid_choice

    return _usage_error(str(invalid_choice("command", command, COMMANDS)))


def _usage_error(message: str) -> int:
    """Reported as AWS CLI v2 reports its own usage errors, followed by wabalink's usage."""
    print(f"\nwabalink: [ERROR]: An error occurred (ParamValidation): {message}\n\n{USAGE}", end="",
          file=sys.stderr)
    return RC_USAGE


if __name__ == "__main__":
    sys.exit(main())
