"""What a push did, as data: the version published (or reused) and the whole outcome the faces record."""

from dataclasses import dataclass

from component.errors import PusherError
from component.push.gate import BlessingReading
from component.savedmodel.inspect import ModelSummary
from component.vertex.target import Registration


@dataclass(frozen=True)
class Published:
    version: int
    uri: str
    files: int
    bytes: int
    seconds: float
    reused: bool = False  # the newest version already held exactly this model
    removed: tuple[int, ...] = ()  # older versions deleted by retention
    retention_error: str = ""  # why retention could not finish; the version stands all the same


@dataclass(frozen=True)
class Outcome:
    pushed: bool
    reason: str
    model_uri: str = ""
    readings: tuple[BlessingReading, ...] = ()
    published: Published | None = None
    summary: ModelSummary | None = None
    registration: Registration | None = None  # the Vertex AI Model Registry version (and endpoint)

    @property
    def destination(self) -> str:
        return self.published.uri if self.published else ""

    @property
    def version(self) -> str:
        return str(self.published.version) if self.published else ""


class AfterPublishError(PusherError):
    """The version WAS published (or reused), then a later step failed (exit code 1) or was
    stopped (128 + the signal's number): registering it in Vertex AI, retention, recording it. The
    message says which version stands where, so nobody concludes nothing was published. With
    `outcome` (what was done), the command still records the push and writes
    the pipeline's outputs before exiting."""

    def __init__(self, message: str, exit_code: int = 1, outcome: "Outcome | None" = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.outcome = outcome
