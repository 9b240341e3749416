"""Decide whether the model may be pushed, from the blessings that validation steps gave it.

TFX reads only the `blessed` property; we also read the marker files the validators write, and
refuse to push when the signals disagree or say nothing, instead of guessing.
"""

import enum
import logging
from dataclasses import dataclass

from component.artifacts import Artifact, parse_flag
from component.naming import named
from component.savedmodel.locate import artifact_entries

log = logging.getLogger(__name__)


class Verdict(enum.Enum):
    BLESSED = "blessed"
    NOT_BLESSED = "not blessed"
    NO_VERDICT = "no verdict"
    CONFLICTING = "conflicting signals"


@dataclass(frozen=True)
class BlessingReading:
    input_name: str
    uri: str
    verdict: Verdict
    evidence: str  # what was read, in words: "metadata blessed=1.0, marker file BLESSED"


@dataclass(frozen=True)
class GateDecision:
    push: bool
    reason: str
    readings: tuple[BlessingReading, ...]


# Marker files per blessing input: (blessed marker, not-blessed marker).
MARKERS = {
    "model_blessing": ("BLESSED", "NOT_BLESSED"),
    "infra_blessing": ("INFRA_BLESSED", "INFRA_NOT_BLESSED"),
}


def read_blessing(blessing: Artifact) -> BlessingReading:
    positive, negative = MARKERS[blessing.name]
    signals: list[tuple[bool, str]] = []
    if "blessed" in blessing.metadata:
        value = blessing.metadata["blessed"]
        signals.append((parse_flag(value, f"{blessing.name}.metadata.blessed"), f"metadata blessed={value}"))
    names = artifact_entries(blessing)
    for marker, meaning in ((positive, True), (negative, False)):
        if names.get(marker) is False:  # a file, not a directory of that name
            signals.append((meaning, f"marker file {marker}"))
    evidence = ", ".join(text for _, text in signals) or (
        f"no 'blessed' metadata and no {positive}/{negative} file"
    )
    verdicts = {meaning for meaning, _ in signals}
    if not verdicts:
        verdict = Verdict.NO_VERDICT
    elif len(verdicts) > 1:
        verdict = Verdict.CONFLICTING
    else:
        verdict = Verdict.BLESSED if verdicts.pop() else Verdict.NOT_BLESSED
    return BlessingReading(blessing.name, blessing.uri, verdict, evidence)


def decide(model_blessing: Artifact | None, infra_blessing: Artifact | None) -> GateDecision:
    readings = tuple(read_blessing(b) for b in (model_blessing, infra_blessing) if b is not None)
    for r in readings:
        log.info("%s (%s): %s (%s)", named(r.input_name), r.uri, r.verdict.value, r.evidence)
    if not readings:
        log.warning("No model_blessing or infra_blessing was given: pushing an UNVALIDATED model.")
        return GateDecision(True, "no blessing was given; pushed without validation", readings)
    refusals = [_refusal(r) for r in readings if r.verdict is not Verdict.BLESSED]
    if refusals:
        return GateDecision(False, "; ".join(refusals), readings)
    names = " and ".join(named(r.input_name) for r in readings)
    return GateDecision(True, f"{names} blessed the model", readings)


def _refusal(r: BlessingReading) -> str:
    if r.verdict is Verdict.NOT_BLESSED:
        return f"{named(r.input_name)} says NOT blessed ({r.evidence})"
    if r.verdict is Verdict.CONFLICTING:
        return f"{named(r.input_name)} signals disagree ({r.evidence})"
    hint = " (an Evaluator with no thresholds writes none)" if r.input_name == "model_blessing" else ""
    return f"{named(r.input_name)} gives no verdict{hint}: {r.evidence}"
