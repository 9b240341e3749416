# The stop handler goes in before anything else is imported: a SIGTERM that arrives while the
# command is still starting then stops it cleanly too.
from . import stopping

stopping.install()

from .cli import main  # noqa: E402

raise SystemExit(main())
