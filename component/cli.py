"""The command: `python -m component` in a pipeline (executor input) or on a laptop (flags).

This is the one place where the project's errors become exit codes: 2 for a bad input, 1 for a
failed publish, 0 when the step did its job (including "not blessed, not pushed", as in TFX).
"""

import argparse
import logging
import sys
import time
from collections.abc import Sequence

from . import __version__
from .errors import PusherError
from .record import json_record, summary, write_outputs
from .request import INPUT_ARTIFACTS, OPTIONS, OUTPUT_ARTIFACT, from_executor_input, from_flags
from .run import run

log = logging.getLogger("component")

EPILOG = """\
examples:
  # on a laptop or with docker run: push a TFX model artifact if its blessings allow it
  python -m component --model ./Trainer/model/7 --model-blessing ./Evaluator/blessing/9 \\
      --infra-blessing ./InfraValidator/blessing/8 \\
      --push-destination '{"filesystem": {"base_directory": "/srv/models/my_model"}}'

  # a bare path or gs:// URI is a destination too; SEQUENTIAL versions are 1, 2, 3, ...
  python -m component --model ./saved_model --push-destination gs://bucket/serving/my_model \\
      --versioning SEQUENTIAL

  # in Kubeflow Pipelines / Vertex AI (what component.yaml runs)
  python -m component --executor-input '{{$}}'

exit codes: 0 pushed, or not pushed because not blessed (the reason is in the output);
            2 bad input, nothing written; 1 publishing failed, nothing published.
"""

_ARTIFACT_HELP = {
    "model": "SavedModel directory or TFX Model artifact (Format-Serving/, serving_model_dir/, export/...).",
    "model_blessing": "Evaluator blessing directory (BLESSED / NOT_BLESSED marker files).",
    "infra_blessing": "InfraValidator blessing directory (INFRA_BLESSED / INFRA_NOT_BLESSED); "
    "its stamped_model/ is pushed when --model is not given.",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m component",
        description="Push a blessed TensorFlow SavedModel to a serving directory (local or gs://) "
        "as a new numbered version, atomically.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--executor-input", metavar="JSON", help="KFP v2 executor input ({{$}}); replaces every other flag.")
    for name in INPUT_ARTIFACTS:
        parser.add_argument(f"--{name.replace('_', '-')}", metavar="DIR", help=_ARTIFACT_HELP[name])
    for option in OPTIONS:
        parser.add_argument(
            f"--{option.name.replace('_', '-')}", metavar=option.name.upper(), default=option.default,
            help=f"{option.help} Example: {option.example}",
        )
    parser.add_argument(
        f"--{OUTPUT_ARTIFACT.replace('_', '-')}", metavar="DIR",
        help="Where to keep an archive copy of the pushed model (TFX's pushed_model artifact).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    started = time.monotonic()
    args = _parser().parse_args(argv)
    try:
        if args.executor_input is not None:
            request = from_executor_input(args.executor_input)
        else:
            if not args.push_destination:
                _parser().error("--push-destination is required (or give --executor-input)")
            request = from_flags(
                {name: getattr(args, name) for name in INPUT_ARTIFACTS},
                {option.name: getattr(args, option.name) for option in OPTIONS},
                args.pushed_model,
            )
        outcome = run(request)
        write_outputs(request, outcome)
    except PusherError as exc:
        log.error("%s", exc)
        return exc.exit_code
    if args.executor_input is None:
        print(json_record(request, outcome))
    log.info("%s (%.2f s in all)", summary(outcome), time.monotonic() - started)
    return 0
