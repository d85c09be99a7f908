"""The ``otcompanion`` command: list chapters, run one with parameters, build the book.

Examples
--------
``otcompanion chapters``
``otcompanion run 00_data -p seed 7 -o out.ipynb``
``otcompanion build`` (all chapters, then the HTML book) or ``otcompanion build 00_data``
``otcompanion build --no-cache`` (recompute every run instead of reading the run cache)
``otcompanion assignment 00 -o hw0 --students ids.csv`` (a class set; :mod:`otcompanion.classroom`)
``otcompanion assignment 00 -o hw0 --students ids.csv --exercises mine.py --replace-exercises``
(graded exercises from a teacher's private file instead of the book's public ones)
``otcompanion assignment 00 -o hw0 --only bob`` (bob's notebook again; the autograder is kept)
``otcompanion build --no-solutions`` (a site whose pages and notebooks carry no solutions)
``otcompanion grade hw0/submissions -a hw0/autograder -o hw0/graded`` (each submission in a
sandbox, :mod:`otcompanion.grading`; feedback, graded notebooks and LMS files in hw0/graded; exit
status 1 when a notebook could not be graded)
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

try:
    from otcompanion import book, classroom, grading
except ModuleNotFoundError as error:  # an extra is missing; main() says which to install
    book = classroom = grading = None
    MISSING_EXTRA = error
else:
    MISSING_EXTRA = None


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
    build.add_argument("--no-solutions", action="store_true",
                       help="leave the exercises' solutions (their text, code and hidden "
                       "checks) out of the pages and the downloadable notebooks, for a course "
                       "that publishes its own copy")
    assignment = commands.add_parser(
        "assignment", help="student notebook(s), solution(s) and autograder of a chapter")
    assignment.add_argument("chapter", help="chapter name, number or topic, e.g. 00_data or 00")
    assignment.add_argument("-o", "--output", required=True, metavar="DIR",
                            help="assignment folder (its student/, solution/, autograder/ "
                            "and wheel/ are replaced; with --only, one student's notebooks)")
    assignment.add_argument("--seed", type=int, default=0,
                            help="the student's seed; with --students, the class seed from "
                            "which every student's seed is derived (default 0)")
    assignment.add_argument("--students", metavar="CSV",
                            help="class list: CSV file (comma or semicolon, UTF-8) with a "
                            "column 'id' and optionally 'seed', 'name', 'email', 'lms_id': one "
                            "notebook per student")
    assignment.add_argument("--all-exercises", action="store_true",
                            help="also include the ungraded exercises")
    assignment.add_argument("-p", "--parameter", nargs=2, action="append", default=[],
                            metavar=("NAME", "VALUE"),
                            help="set a parameter for everyone (repeatable)")
    assignment.add_argument("--no-execute", action="store_true",
                            help="write the solution notebooks without executing them (the "
                            "student notebooks then name the computed values instead of "
                            "quoting them)")
    assignment.add_argument("--exercises", metavar="FILE",
                            help="a private file of graded exercises (.py in py:percent or .md "
                            "in MyST, with the exercise, solution and check cells of the "
                            "chapters), appended after the chapter's exercises")
    assignment.add_argument("--replace-exercises", action="store_true",
                            help="with --exercises: the private exercises replace the "
                            "chapter's")
    assignment.add_argument("--only", metavar="ID",
                            help="regenerate the notebooks of this one student of the "
                            "assignment in DIR, with its recorded parameters; the autograder "
                            "and the other students' notebooks are left untouched")
    assignment.add_argument("--no-wheel", action="store_true",
                            help="do not build the package's wheel into DIR/wheel (the "
                            "student notebooks' first cell installs it where the package is "
                            "missing)")
    grade = commands.add_parser("grade", help="grade a submitted notebook, or a folder of them")
    grade.add_argument("submission", help="a submitted .ipynb, or a folder searched for them")
    grade.add_argument("-a", "--autograder", required=True, metavar="DIR",
                       help="the autograder/ folder of `otcompanion assignment`")
    grade.add_argument("--student", help="student id of one notebook (default: from the file "
                       "or folder name, a Canvas download name, or --mapping)")
    grade.add_argument("--timeout", type=float, default=60.0,
                       help="seconds allowed to each cell (default 60)")
    grade.add_argument("--csv", metavar="FILE", help="also write the scores to a CSV file")
    grade.add_argument("-o", "--output", metavar="DIR",
                       help="keep the graded notebooks, a feedback file per submission and the "
                       "CSV files (scores, questions, canvas, moodle) in DIR")
    grade.add_argument("--mapping", metavar="CSV",
                       help="CSV file with columns file and id: which student handed in which file")
    grade.add_argument("--jobs", type=int, default=None,
                       help="submissions graded at once (default: the number of cores)")
    grade.add_argument("--assignment-name", help="the assignment's column in canvas.csv")
    grade.add_argument("--unsafe", action="store_true",
                       help="run the students' code without a sandbox, as your user (only in a "
                       "disposable machine; refused otherwise when bubblewrap is unavailable)")
    return parser


def _parameters(pairs):
    names = [name for name, _ in pairs]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise book.ParameterError(f"parameter(s) given more than once: {repeated}.")
    return dict(pairs)


def _assignment(args):
    if args.only is not None and args.seed != 0:
        raise classroom.AssignmentError("--only: regenerates with the recorded seed; do not "
                                        "give --seed with it.")
    classroom.make_assignment(args.chapter, args.output, seed=args.seed,
                              students=args.students, parameters=_parameters(args.parameter),
                              all_exercises=args.all_exercises,
                              execute_solution=not args.no_execute, exercises=args.exercises,
                              replace_exercises=args.replace_exercises, only=args.only,
                              wheel=not args.no_wheel)
    return 0


def _grade(args):
    """Grade a notebook or a folder; exit status 1 when a notebook could not be graded."""
    path = Path(args.submission).resolve()
    autograder = Path(args.autograder).resolve()
    scores = Path(args.csv).resolve() if args.csv else None
    output = Path(args.output).resolve() if args.output else None
    if path.is_dir():
        if args.student:
            raise classroom.AssignmentError("--student: grades one notebook, not a folder.")
        reports = grading.grade_folder(path, autograder, timeout=args.timeout, csv_path=scores,
                                       jobs=args.jobs, unsafe=args.unsafe, output=output,
                                       mapping=args.mapping,
                                       assignment_name=args.assignment_name)
    elif path.is_file():
        if args.mapping:
            raise classroom.AssignmentError("--mapping: for a folder; use --student for one "
                                            "notebook.")
        keep = output / "graded" / path.name if output else None
        reports = [grading.grade(path, autograder, student=args.student, timeout=args.timeout,
                                 unsafe=args.unsafe, keep=keep)]
        print(reports[0].text())
        if scores:
            grading.write_scores(reports, autograder, scores)
        if output:
            grading.write_exports(reports, autograder, output,
                                  assignment_name=args.assignment_name)
    else:
        raise classroom.AssignmentError(f"SUBMISSION: no notebook or folder "
                                        f"{args.submission!r}.")
    failed = [report for report in reports if report.failure]
    if not failed:
        return 0
    print(f"otcompanion: error: {len(failed)} of {len(reports)} notebook(s) could not be graded "
          f"(their zero says nothing of the answers):", file=sys.stderr)
    for report in failed:
        print(f"  {report.notebook} ({report.student or 'unknown student'}): {report.failure}",
              file=sys.stderr)
    return 1


def main(argv=None):
    """Entry point of the ``otcompanion`` command; returns the exit status."""
    args = _parser().parse_args(argv)
    if MISSING_EXTRA is not None:
        print(f"otcompanion: error: {MISSING_EXTRA}", file=sys.stderr)
        return 1
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
        if args.command in ("assignment", "grade"):
            try:
                return _assignment(args) if args.command == "assignment" else _grade(args)
            except (TypeError, ValueError) as error:  # from the shared parameter checks
                raise classroom.AssignmentError(str(error)) from None
        book.build_book(args.chapters or None, execute=not args.no_execute,
                        solutions=not args.no_solutions)
        return 0
    except (book.ParameterError, book.ChapterNotFound, classroom.AssignmentError) as error:
        print(f"otcompanion: error: {error}", file=sys.stderr)
        return 2
    except (book.ChapterFailed, RuntimeError, FileNotFoundError) as error:
        print(f"otcompanion: error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
