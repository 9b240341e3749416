# The stop handler goes in before anything else is imported: a SIGTERM that arrives while the
# command is still starting then stops it cleanly too.
from component.errors import Interrupted
from component.runtime import stopping

stopping.install()

try:
    from component.kfp.cli import main
except Interrupted as exc:  # stopped while loading: nothing was written yet
    import logging
    import sys

    logging.basicConfig(format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    logging.getLogger("component").error("%s", exc)
    raise SystemExit(exc.exit_code) from None

raise SystemExit(main())
