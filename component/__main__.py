"""`python -m component` and the installed `model-pusher` command."""

# The stop handler goes in before the command's modules are imported: a SIGTERM that arrives while
# the command is still starting then stops it cleanly too.
from component.errors import Interrupted
from component.runtime import stopping


def main() -> int:
    stopping.install()
    try:
        from component.kfp.cli import main as command
    except Interrupted as exc:  # stopped while loading: nothing was written yet
        import logging
        import sys

        logging.basicConfig(format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
        logging.getLogger("component").error("%s", exc)
        return exc.exit_code
    return command()


if __name__ == "__main__":
    raise SystemExit(main())
