"""The project's own error types; cli.main turns them into exit codes in one place."""


class PusherError(Exception):
    """Base of every error the pusher reports to its user as one line."""

    exit_code = 1


class InputError(PusherError):
    """A bad input: the user must change something. Exit code 2; nothing was written."""

    exit_code = 2


class PublishError(PusherError):
    """Publishing failed (I/O, storage service, permissions). Exit code 1; nothing was published."""

    exit_code = 1


class AfterPublishError(PublishError):
    """A step after a successful publish failed (registering the version, retention, ...). The
    version WAS published and stays so: `outcome` (a record.Outcome) is what was done, so the
    command still records it and writes the pipeline's outputs before exiting with code 1."""

    def __init__(self, message: str, outcome: object) -> None:
        super().__init__(message)
        self.outcome = outcome
