"""The command: `python -m component` in a pipeline (executor input) or on a laptop (flags),
plus `list` and `rollback` for the versions at a destination.

This is the one place where the project's errors become exit codes: 2 for a bad input, 1 for a
failed publish, 0 when the step did its job (including "not blessed, not pushed", as in TFX).
"""

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import NoReturn

from component import __version__, naming, settings
from component.errors import InputError, Interrupted, PusherError
from component.kfp.flag_names import FlagNames, flag_names
from component.kfp.options import INPUT_ARTIFACTS, OPTIONS, OUTPUT_ARTIFACT, REPORT_ARTIFACT, Option
from component.kfp.outputs import KfpOutputs, json_record, write_outputs
from component.kfp.report import text_summary, write_markdown
from component.kfp.request import from_executor_input, from_flags
from component.naming import flag
from component.push.base import open_base
from component.push.destination import parse_destination
from component.push.outcome import AfterPublishError, Outcome
from component.push.rollback import rollback
from component.push.run import run
from component.push.versions import list_versions
from component.runtime import stopping

log = logging.getLogger("component")

EPILOG = """\
examples: the README's "Using it on a laptop or with docker run" section.

exit codes: 0 pushed (or reused) and recorded, or not pushed because not blessed (the reason is
            in the output); 2 bad input, nothing written; 1 publishing failed, nothing published,
            unless the line says which version was published before a later step failed;
            143 / 130 stopped by SIGTERM / SIGINT, what the push had written removed.
"""

_OUTPUT_HELP = {
    OUTPUT_ARTIFACT: ("DIR", "Where to keep an archive copy of the pushed model (TFX's pushed_model artifact)."),
    REPORT_ARTIFACT: ("FILE", "Where to write the push report as Markdown."),
}


class _Once(argparse.Action):
    """An option given twice is a mistake (which one was meant?), not "the last one wins"."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        given = vars(namespace).setdefault("given_options", set())
        if self.dest in given:
            parser.error(f"{option_string} is given more than once; give it once")
        given.add(self.dest)
        setattr(namespace, self.dest, values)


class _Parser(argparse.ArgumentParser):
    """A bad command line is a bad input like any other: one line naming it, exit 2 (argparse
    would print the whole usage first)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.register("action", None, _Once)
        self.register("action", "store", _Once)

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{message} (see {self.prog} --help)")

    def parse(self, argv: Sequence[str]) -> argparse.Namespace:
        """The command line, checked, then the environment: --help and --version answer whatever
        the environment holds, anything else stops on a bad environment variable before it writes."""
        args = self.parse_args(argv)
        settings.current()
        return args


def _prog() -> str:
    """The command as the user typed it: the installed script, or the module."""
    return "model-pusher" if Path(sys.argv[0]).name == "model-pusher" else "python -m component"


USAGE = """\
%(prog)s --push-destination DEST [--model DIR] [--model-blessing DIR] [--infra-blessing DIR] [options]
       %(prog)s list --push-destination DEST [--json]
       %(prog)s rollback --push-destination DEST [--to VERSION] [--versioning VERSIONING]
       %(prog)s --executor-input JSON    (in Kubeflow Pipelines: what component.yaml runs)"""


def _push_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=_prog(),
        usage=USAGE,
        description="Push a blessed TensorFlow SavedModel to a serving directory (local, gs://, s3:// or minio://)\n"
        "as a new numbered version, atomically. `list` shows the versions at a destination, `rollback`\n"
        "republishes an older one (see their --help). An on/off option is switched on by giving it alone.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # so a prefix of --executor-input never passes for the KFP front
    )
    parser.add_argument("--executor-input", metavar="JSON", help="KFP v2 executor input ({{$}}), given alone.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    push = parser.add_argument_group("what to push, and where")
    for name in INPUT_ARTIFACTS:
        push.add_argument(flag(name), metavar="DIR", help=flag_names(INPUT_ARTIFACTS[name]))
    vertex = parser.add_argument_group("Vertex AI Model Registry and endpoints (with --vertex-model)")
    for option in OPTIONS:
        group = vertex if option.name.startswith("vertex_") else push
        if option.kind is bool:
            # On/off: bare on the command line; KFP (and scripts) pass true or false.
            group.add_argument(flag(option.name), nargs="?", const="true", default=option.default, metavar="true|false",
                               help=flag_names(option.help))
        else:  # examples are in the README: a help screen that fits is read
            default = f" (default: {option.default})" if option.default else ""
            group.add_argument(flag(option.name), metavar=_metavar(option), default=option.default,
                               help=flag_names(f"{option.help}{default}"))
    output = parser.add_argument_group("where to record the push")
    for name, (metavar, text) in _OUTPUT_HELP.items():
        output.add_argument(flag(name), metavar=metavar, help=text)
    return parser


def _metavar(option: Option) -> str:
    """A short placeholder, so most options fit on one line with their help."""
    return "N" if option.kind is int else "DEST" if option.name == "push_destination" else option.name.split("_")[-1].upper()


def _destination_parser(command: str, description: str) -> argparse.ArgumentParser:
    parser = _Parser(prog=f"{_prog()} {command}", description=description, allow_abbrev=False)
    parser.add_argument("--push-destination", required=True, metavar="DEST",
                        help="PushDestination JSON or a base directory (local, gs://, s3:// or minio://).")
    return parser


def _push(argv: Sequence[str]) -> int:
    parser = _push_parser()
    args = parser.parse(argv)
    if args.executor_input is not None:
        others = sorted(getattr(args, "given_options", set()) - {"executor_input"})
        if others:  # KFP gives it alone; anything beside it would be silently ignored
            parser.error(f"--executor-input replaces every other flag; remove {', '.join(map(flag, others))}")
        invocation = from_executor_input(args.executor_input)
    else:
        _speak_flags(argv)
        for option in OPTIONS:
            if option.required and not getattr(args, option.name):
                parser.error(f"{flag(option.name)} is required (or give --executor-input)")
        invocation = from_flags(
            {name: getattr(args, name) for name in INPUT_ARTIFACTS},
            {option.name: getattr(args, option.name) for option in OPTIONS},
            {name: getattr(args, name) for name in _OUTPUT_HELP},
        )
    try:
        outcome = run(invocation.request)
    except AfterPublishError as exc:
        if exc.outcome is not None:  # published, then registering failed: recorded like any push
            _record(invocation.outputs, exc.outcome, print_json=args.executor_input is None)
        raise
    _record(invocation.outputs, outcome, print_json=args.executor_input is None)
    return 0


def _record(outputs: KfpOutputs, outcome: Outcome, print_json: bool) -> None:
    try:
        write_outputs(outputs, outcome)
        if outputs.push_report is not None:
            write_markdown(outputs.push_report.path, outcome)
        if print_json:
            _print_record(json_record(outcome, outputs.pushed_model))
    # ValueError: a name that is not UTF-8 (a surrogate) cannot be written into a UTF-8 file.
    except (OSError, ValueError, Interrupted) as exc:
        if outcome.published is None:
            raise
        stopped = isinstance(exc, Interrupted)
        raise AfterPublishError(
            f"version {outcome.version} was published at {outcome.destination}, but recording it (KFP's output "
            f"files, the push report, the JSON record on stdout) "
            f"{f'was stopped by {exc.signal_name}' if stopped else f'failed ({exc})'}",
            exc.exit_code if stopped else 1,
        ) from None
    stopping.finished()
    _log_summary(outcome)


def _print_record(record: str) -> None:
    """Print the record, flushed now, so that a full or closed stdout fails here, where the error
    can say which version stands, not at exit. What could not be written is dropped, so that
    Python's own flush at exit does not fail again."""
    if sys.stdout is None:
        raise OSError("stdout is closed")
    try:
        print(record, flush=True)
    except (OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        raise


def _list(argv: Sequence[str]) -> int:
    parser = _destination_parser("list", "List the versions at a destination, oldest first.")
    parser.add_argument("--json", action="store_true", help="Print JSON instead of a table.")
    args = parser.parse(argv)
    _speak_flags(argv)
    base = parse_destination(args.push_destination).base
    infos = list_versions(open_base(base), read_notes=True)
    if args.json:
        lines = [json.dumps([asdict(i) for i in infos], indent=2)]
    else:
        lines = [f"{'version':>12}  {'modified (UTC)':19}  {'files':>5}  {'MB':>9}  {'complete':8}  what"]
        for i in infos:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(i.modified))
            what = i.rollback.text() if i.rollback is not None else "pushed" if i.complete else "-"
            lines.append(f"{i.version:>12}  {when:19}  {i.files:>5}  {i.bytes / 1e6:>9.2f}  "
                         f"{'yes' if i.complete else 'NO':8}  {what}")
    _print_lines(lines)
    if not infos:
        if "://" not in base and not Path(base).exists():
            log.warning("%s does not exist: no versions there (is the path right?).", base)
        else:
            log.info("No versions at %s.", base)
    return 0


def _print_lines(lines: Sequence[str]) -> None:
    """Print to stdout; a reader that stops early (`| head`) ends the output quietly, as with ls."""
    if sys.stdout is None:  # started with stdout closed: nobody reads it
        return
    try:
        for line in lines:
            print(line)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would report the closed pipe again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _rollback(argv: Sequence[str]) -> int:
    parser = _destination_parser(
        "rollback", "Republish an older version as the newest one, so model servers switch back to it."
    )
    parser.add_argument("--to", type=int, metavar="VERSION", help=(
        "The version to go back to. Default: undo the newest push, republishing the version before it; "
        "nothing changes when the newest version is already a rollback copy."))
    parser.add_argument("--versioning", metavar="VERSIONING", default="", help=(
        "How the copy is numbered: AUTO or UNIX_TIMESTAMP (Unix time), or SEQUENTIAL. Default: as the "
        "destination JSON says, else as the base is numbered (SEQUENTIAL when no version there is a Unix time)."))
    args = parser.parse(argv)
    _speak_flags(argv)
    destination = parse_destination(args.push_destination, args.versioning)
    rolled = rollback(destination, args.to)
    outcome = Outcome(True, rolled.reason, rolled.source.root, published=rolled.published)
    _print_lines([json_record(outcome)])
    _log_summary(outcome)
    return 0


def _log_summary(outcome: Outcome) -> None:
    for line in text_summary(outcome):
        log.info("%s", line)


COMMANDS = {"list": _list, "rollback": _rollback}


def _speak_flags(argv: Sequence[str]) -> None:
    """From here on, this command names inputs as the flags that set them; what the user gave
    (`argv`'s values) is never renamed."""
    naming.use_flags(True)
    given = [a.partition("=")[2] if a.startswith("--") else a for a in argv]
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, FlagNames) for f in handler.filters):
            handler.addFilter(FlagNames(given))


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    argv = list(sys.argv[1:] if argv is None else argv)
    command = COMMANDS.get(argv[0], _push) if argv else _push
    if command is not _push:
        argv = argv[1:]
    try:
        return _run(command, argv)
    finally:  # a caller in the same process logs in its own words again
        naming.use_flags(False)
        for handler in logging.getLogger().handlers:
            for f in [f for f in handler.filters if isinstance(f, FlagNames)]:
                handler.removeFilter(f)


def _run(command: Callable[[Sequence[str]], int], argv: Sequence[str]) -> int:
    started = time.monotonic()
    try:
        code = command(argv)
        stopping.finished()
    except Interrupted as exc:
        log.error("%s", stopping.stopped_line(exc))
        stopping.said(exc.exit_code)
        return exc.exit_code
    except PusherError as exc:
        log.error("%s", exc)
        stopping.said(exc.exit_code)
        return exc.exit_code
    if command is not _list:  # a listing is its own answer
        log.info("Done in %.2f s.", time.monotonic() - started)
    return code
