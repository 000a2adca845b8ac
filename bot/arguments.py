"""Arguments of ``fieldbot demo`` and ``fieldbot console``, kept apart from those modules.

``fieldbot --help`` builds every sub-command's parser: defined here, they cost no import of the
bot (the demo and the console bring the whole application with them).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def demo(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--lang",
        choices=("en", "zh"),
        default="en",
        help="the language the demo's people use (the bot answers in it)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("fieldbot-demo"),
        help="folder for the demo database, transcript, workbook and chart (default: ./fieldbot-demo)",
    )


def console(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--as",
        dest="as_user",
        required=True,
        metavar="NAME",
        help="chat as this user: their name, @username or Telegram id",
    )
    parser.add_argument("--database", metavar="URL", help="database URL (default: FIELDBOT_DATABASE_URL)")
