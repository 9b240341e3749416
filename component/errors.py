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


class Interrupted(PusherError):
    """SIGTERM or SIGINT: the push stopped and removed what it had written that is not published.
    Exit code 128 + the signal's number, as a shell reports a process killed by it."""

    def __init__(self, signum: int, name: str) -> None:
        super().__init__(f"stopped by {name}: what this push had written was removed; nothing was published")
        self.exit_code = 128 + signum
        self.signal_name = name
