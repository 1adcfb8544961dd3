"""MkDocs hook: the CLI reference page is generated from the argparse parsers.

``docs/reference/cli.md`` holds the marker ``<!-- cli-reference -->``; at build time it is
replaced by every command's ``--help`` (``altmarl.cli.build_parser()``, subcommands of
subcommands included), so the page cannot drift from the code.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Iterator

MARKER = "<!-- cli-reference -->"
#: Help is wrapped at this width whatever the terminal that builds the site.
WIDTH = 80


def commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser, str]]:
    """``(path, parser, one-line help)`` of every subcommand, depth first, in parser order."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                yield (*path, name), sub, helps.get(name, "")
                yield from commands(sub, (*path, name))


def render(parser: argparse.ArgumentParser) -> str:
    """Markdown of every command: a heading, its one-line help and its ``--help`` text."""
    parts: list[str] = []
    for path, sub, summary in commands(parser):
        sub.formatter_class = functools.partial(argparse.HelpFormatter, width=WIDTH)
        level = "#" * (len(path) + 1)
        parts.append(f"{level} altmarl {' '.join(path)}\n")
        if summary:
            parts.append(f"{summary[0].upper()}{summary[1:]}.\n")
        parts.append(f"```text\n{sub.format_help().rstrip()}\n```\n")
    return "\n".join(parts)


def on_page_markdown(markdown: str, page: object, config: object, files: object) -> str:
    if MARKER not in markdown:
        return markdown
    from altmarl.cli import build_parser

    return markdown.replace(MARKER, render(build_parser()))
