"""The ``otcompanion`` command: list chapters, run one with parameters, build the book.

Examples
--------
``otcompanion chapters``
``otcompanion run 00_data -p seed 7 -o out.ipynb``
``otcompanion build`` (all chapters, then the HTML book) or ``otcompanion build 00_data``
``otcompanion build --no-cache`` (recompute every run instead of reading the run cache)
"""

from __future__ import annotations

import argparse
import os
import sys

from otcompanion import book


def _print_chapters():
    for chapter in book.list_chapters():
        print(f"{chapter.name}: {chapter.title}")
        parameters = book.chapter_parameters(chapter).values()
        if not parameters:
            print("    (no parameters)")
        width = max((len(p.name) for p in parameters), default=0)
        for p in parameters:
            about = f"  # {p.help}" if p.help else ""
            print(f"    {p.name:<{width}} : {p.type} = {p.default}{about}")
    return 0


NO_CACHE_HELP = ("compute every run instead of reading runs computed before with the same "
                 "parameters and code from the run cache (otcompanion.engine)")


def _parser():
    parser = argparse.ArgumentParser(
        prog="otcompanion",
        description="Run the chapters of the otcompanion book and build it.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("chapters", help="list chapters with their parameters")
    run = commands.add_parser("run", help="execute one chapter with papermill")
    run.add_argument("chapter", help="chapter name, number or topic, e.g. 00_data, 00 or data")
    run.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                     metavar=("NAME", "VALUE"), help="set a parameter (repeatable)")
    run.add_argument("--no-cache", action="store_true", help=NO_CACHE_HELP)
    run.add_argument("-o", "--output", help="executed notebook path "
                     "(default: book/chapters/CHAPTER.ipynb)")
    build = commands.add_parser("build", help="execute chapters, then build the HTML book")
    build.add_argument("chapters", nargs="*", help="chapters to execute (default: all)")
    build.add_argument("--no-execute", action="store_true",
                       help="render the already executed notebooks without running them")
    build.add_argument("--no-cache", action="store_true", help=NO_CACHE_HELP)
    return parser


def main(argv=None):
    """Entry point of the ``otcompanion`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    if getattr(args, "no_cache", False):
        # Read by otcompanion.engine in this process and in the chapters' kernels.
        os.environ["OTCOMPANION_NO_CACHE"] = "1"
    try:
        if args.command == "chapters":
            return _print_chapters()
        if args.command == "run":
            names = [name for name, _ in args.parameter]
            repeated = sorted({name for name in names if names.count(name) > 1})
            if repeated:
                raise book.ParameterError(f"parameter(s) given more than once: {repeated}.")
            book.run_chapter(args.chapter, dict(args.parameter), output=args.output)
            return 0
        book.build_book(args.chapters or None, execute=not args.no_execute)
        return 0
    except (book.ParameterError, book.ChapterNotFound, book.ChapterFailed, RuntimeError,
            FileNotFoundError) as error:
        print(f"otcompanion: error: {error}", file=sys.stderr)
        return 2 if isinstance(error, (book.ParameterError, book.ChapterNotFound)) else 1


if __name__ == "__main__":
    sys.exit(main())
