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
from collections.abc import Sequence

from component import __version__
from component.errors import Interrupted, PusherError
from component.kfp.options import INPUT_ARTIFACTS, OPTIONS, OUTPUT_ARTIFACT, REPORT_ARTIFACT
from component.kfp.outputs import KfpOutputs, json_record, write_outputs
from component.kfp.report import text_summary, write_markdown
from component.kfp.request import from_executor_input, from_flags
from component.push.base import open_base
from component.push.destination import parse_destination
from component.push.outcome import AfterPublishError, Outcome
from component.push.rollback import rollback
from component.push.run import run
from component.push.versions import list_versions
from component.runtime import stopping

log = logging.getLogger("component")

EPILOG = """\
examples:
  # on a laptop or with docker run: push a TFX model artifact if its blessings allow it
  python -m component --model ./Trainer/model/7 --model-blessing ./Evaluator/blessing/9 \\
      --infra-blessing ./InfraValidator/blessing/8 \\
      --push-destination '{"filesystem": {"base_directory": "/srv/models/my_model"}}'

  # a bare path or gs:// URI is a destination too; SEQUENTIAL versions are 1, 2, 3, ...
  python -m component --model ./saved_model --push-destination gs://bucket/serving/my_model \\
      --versioning SEQUENTIAL --keep-versions 5

  # also register the version in the Vertex AI Model Registry and deploy it as a 10% canary
  python -m component --model ./saved_model --push-destination gs://bucket/serving/taxi \\
      --vertex-model taxi --vertex-project my-project --vertex-region europe-west4 \\
      --vertex-version-aliases champion --vertex-endpoint 1234567890 --vertex-traffic-percentage 10

  # S3, or an S3-compatible store (Kubeflow's SeaweedFS/MinIO) at AWS_ENDPOINT_URL
  AWS_ENDPOINT_URL=http://seaweedfs.kubeflow:9000 python -m component --model ./saved_model \\
      --push-destination minio://mlpipeline/serving/my_model

  # in Kubeflow Pipelines / Vertex AI (what component.yaml runs)
  python -m component --executor-input '{{$}}'

  # the versions at a destination, and going back to the previous one
  python -m component list --push-destination gs://bucket/serving/my_model
  python -m component rollback --push-destination gs://bucket/serving/my_model [--to 1700000000]

exit codes: 0 pushed (or reused) and recorded, or not pushed because not blessed (the reason is
            in the output); 2 bad input, nothing written; 1 publishing failed, nothing published,
            unless the line says which version was published before a later step failed;
            143 / 130 stopped by SIGTERM / SIGINT, what the push had written removed.
"""

_OUTPUT_HELP = {
    OUTPUT_ARTIFACT: ("DIR", "Where to keep an archive copy of the pushed model (TFX's pushed_model artifact)."),
    REPORT_ARTIFACT: ("FILE", "Where to write the push report as Markdown."),
}


def _flag(name: str) -> str:
    return f"--{name.replace('_', '-')}"


def _push_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m component",
        description="Push a blessed TensorFlow SavedModel to a serving directory (local, gs://, s3:// or minio://) "
        "as a new numbered version, atomically. Subcommands: list, rollback (see their --help).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--executor-input", metavar="JSON", help="KFP v2 executor input ({{$}}); replaces every other flag.")
    for name in INPUT_ARTIFACTS:
        parser.add_argument(_flag(name), metavar="DIR", help=INPUT_ARTIFACTS[name])
    for option in OPTIONS:
        parser.add_argument(
            _flag(option.name), metavar=option.name.upper(), default=option.default,
            help=f"{option.help} Example: {option.example}" + (f" (default: {option.default})" if option.default else ""),
        )
    for name, (metavar, text) in _OUTPUT_HELP.items():
        parser.add_argument(_flag(name), metavar=metavar, help=text)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _destination_parser(command: str, description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"python -m component {command}", description=description)
    parser.add_argument("--push-destination", required=True, help="PushDestination JSON or a base directory (local, gs://, s3:// or minio://).")
    return parser


def _push(argv: Sequence[str]) -> int:
    parser = _push_parser()
    args = parser.parse_args(argv)
    if args.executor_input is not None:
        invocation = from_executor_input(args.executor_input)
    else:
        for option in OPTIONS:
            if option.required and not getattr(args, option.name):
                parser.error(f"{_flag(option.name)} is required (or give --executor-input)")
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
    args = parser.parse_args(argv)
    infos = list_versions(open_base(parse_destination(args.push_destination).base))
    if args.json:
        print(json.dumps([vars(i) for i in infos], indent=2))
        return 0
    print(f"{'version':>12}  {'modified (UTC)':19}  {'files':>5}  {'MB':>9}  complete")
    for i in infos:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(i.modified))
        print(f"{i.version:>12}  {when:19}  {i.files:>5}  {i.bytes / 1e6:>9.2f}  {'yes' if i.complete else 'NO'}")
    if not infos:
        log.info("No versions at %s.", args.push_destination)
    return 0


def _rollback(argv: Sequence[str]) -> int:
    parser = _destination_parser(
        "rollback", "Republish an older version as the newest one, so model servers switch back to it."
    )
    parser.add_argument("--to", type=int, metavar="VERSION", help="The version to go back to (default: the one before the newest).")
    args = parser.parse_args(argv)
    destination = parse_destination(args.push_destination)
    source, published = rollback(destination, args.to)
    outcome = Outcome(True, f"rolled back: republished {source.origin} as version {published.version}",
                      source.root, published=published)
    print(json_record(outcome))
    _log_summary(outcome)
    return 0


def _log_summary(outcome: Outcome) -> None:
    for line in text_summary(outcome):
        log.info("%s", line)


COMMANDS = {"list": _list, "rollback": _rollback}


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    argv = list(sys.argv[1:] if argv is None else argv)
    command = COMMANDS.get(argv[0], _push) if argv else _push
    if command is not _push:
        argv = argv[1:]
    started = time.monotonic()
    stopping.install()
    try:
        code = command(argv)
        stopping.finished()
    except Interrupted as exc:
        if stopping.published_at:
            log.error("version %s was published; then the step was stopped by %s before it finished "
                      "(it may not be recorded)", stopping.published_at[-1], exc.signal_name)
        else:
            log.error("%s", exc)
        return exc.exit_code
    except PusherError as exc:
        log.error("%s", exc)
        return exc.exit_code
    log.info("Done in %.2f s.", time.monotonic() - started)
    return code
