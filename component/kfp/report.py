"""The push report: Markdown for the KFP UI (a system.Markdown artifact), a short text for terminals."""

from pathlib import Path

from component.naming import named
from component.push.outcome import Outcome
from component.push.retention import versions_text
from component.stores.progress import rate
from component.savedmodel.inspect import TensorSpec, signature_line, tensor_text
from component.stores.local_files import replace_file
from component.vertex.target import Registration


def tensors_text(tensors: dict[str, TensorSpec]) -> str:
    return "<br>".join(tensor_text(n, s) for n, s in tensors.items()) or "none"


def markdown(outcome: Outcome) -> str:
    lines = [f"# Model push: {headline(outcome)}", "", f"**Why:** {outcome.reason}", ""]
    if outcome.readings:
        lines += ["## Blessings", "", "| input | verdict | evidence | uri |", "| --- | --- | --- | --- |"]
        lines += [f"| {named(r.input_name)} | {r.verdict.value} | {r.evidence} | `{r.uri}` |" for r in outcome.readings]
    else:
        lines += ["## Blessings", "", "None given: the model was not validated by any pipeline step."]
    lines += ["", "## Model", "", f"Source: `{outcome.model_uri}`", ""]
    if outcome.summary is not None:
        lines += ["| signature | method | inputs | outputs |", "| --- | --- | --- | --- |"]
        lines += [
            f"| {s.key} | {s.method} | {tensors_text(s.inputs)} | {tensors_text(s.outputs)} |"
            for s in outcome.summary.signatures.values()
        ]
        if outcome.summary.warmup_records is not None:
            lines += ["", f"Warmup requests: {outcome.summary.warmup_records} records."]
    p = outcome.published
    if p is not None:
        lines += [
            "", "## Published", "",
            "| version | destination | files | bytes | duration | throughput |",
            "| --- | --- | --- | --- | --- | --- |",
            f"| {p.version} | `{p.uri}` | {p.files} | {p.bytes:,} | {p.seconds:.2f} s | {rate(p.bytes, p.seconds)} |",
        ]
        if p.reused:
            lines += ["", f"Version {p.version} already held exactly this model, so no new version was made."]
        if p.removed:
            lines += ["", f"Retention removed {versions_text(p.removed)}."]
    if outcome.registration is not None:
        lines += ["", "## Vertex AI Model Registry", ""] + _vertex_lines(outcome.registration)
    return "\n".join(lines) + "\n"


def _vertex_lines(r: Registration) -> list[str]:
    lines = [
        "| model version | aliases | registered |", "| --- | --- | --- |",
        f"| `{r.model_version}` | {', '.join(r.aliases) or 'none'} | "
        f"{'earlier (found by its gs:// URI, reused)' if r.reused else 'now'} |",
    ]
    if r.endpoint:
        split = ", ".join(f"{k}: {v}%" for k, v in (r.traffic_split or {}).items()) or "none"
        lines += [
            "", "| endpoint | deployed model | deployed | traffic split | undeployed |", "| --- | --- | --- | --- | --- |",
            f"| `{r.endpoint}` | {r.deployed_model_id} | {'now' if r.deployed_now else 'earlier (not deployed again)'} "
            f"| {split} | {', '.join(r.undeployed) or 'none'} |",
        ]
    return lines


def headline(outcome: Outcome) -> str:
    p = outcome.published
    if p is None:
        return "NOT pushed"
    return f"reused version {p.version}" if p.reused else f"pushed version {p.version}"


def text_summary(outcome: Outcome) -> list[str]:
    """The few lines a person at a terminal wants after the push."""
    lines = [f"Decision: {headline(outcome)}: {outcome.reason}"]
    lines += [f"  {named(r.input_name)}: {r.verdict.value} ({r.evidence})" for r in outcome.readings]
    if outcome.summary is not None:
        lines += [f"  signature {signature_line(s)}" for s in outcome.summary.signatures.values()]
    p = outcome.published
    if p is not None and p.reused:  # nothing was copied: a rate would describe nothing
        lines.append(f"  {p.uri}: {p.files} files, {p.bytes / 1e6:.2f} MB, already there: nothing written "
                     f"(checked in {p.seconds:.2f} s)")
    elif p is not None:
        lines.append(
            f"  {p.uri}: {p.files} files, {p.bytes / 1e6:.2f} MB in {p.seconds:.2f} s ({rate(p.bytes, p.seconds)})"
        )
        if p.removed:
            lines.append(f"  retention removed {versions_text(p.removed)}")
    r = outcome.registration
    if r is not None:
        lines.append(f"  Vertex AI: {r.model_version} ({'reused' if r.reused else 'registered'}"
                     + (f", aliases {', '.join(r.aliases)}" if r.aliases else "") + ")")
        if r.endpoint:
            lines.append(f"  deployed as {r.deployed_model_id} on {r.endpoint}"
                         f" ({'now' if r.deployed_now else 'already'}); traffic {dict(r.traffic_split or {})}")
    return lines


def write_markdown(path: Path, outcome: Outcome) -> None:
    replace_file(path, markdown(outcome))
