"""The `encaps-lint` command and `python -m dcmencaps_lint` start here.

A plain command line (command.plain_command_line) runs without importing click; every
other one goes to click (cli.py).
"""

import sys


def main() -> None:
    from dcmencaps_lint.command import (
        configure_logging,
        configured,
        guarded,
        plain_command_line,
        run,
    )

    plain = plain_command_line(sys.argv[1:])
    if plain is None:
        from dcmencaps_lint.cli import main as parsed_by_click

        parsed_by_click()
        return
    params, given = plain
    from dcmencaps_lint.registry import may_have_plugins

    if may_have_plugins():  # only a rule plugin that fails to load logs (a warning)
        configure_logging(verbose=False)
    sys.exit(guarded(lambda: run(**configured(params, given)), verbose=False))


if __name__ == "__main__":
    main()
