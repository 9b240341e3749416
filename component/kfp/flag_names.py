"""Log lines in the words of the command line: the core names inputs the KFP way
(keep_versions), a command-line user reads the flag (--keep-versions).

Only what the program wrote is renamed, never what the user gave: a log call's format string is
the program's own text; an error's message is the program's text around the user's values, so in
it the leading "name:" that says which input is wrong is renamed, and further names only outside
quotes, brackets and the values given on the command line. Plain arguments (paths, reasons
already worded with component.naming) are left as they are."""

import logging
import re
from collections.abc import Iterable

from component.kfp.options import INPUT_ARTIFACTS, OPTIONS, OUTPUT_ARTIFACT, REPORT_ARTIFACT
from component.naming import flag

_BOOLS = {o.name for o in OPTIONS if o.kind is bool}
_ALL = {o.name for o in OPTIONS} | set(INPUT_ARTIFACTS) | {OUTPUT_ARTIFACT, REPORT_ARTIFACT}
# "model" and "versioning" are also ordinary words (and "versioning" a field of the destination
# JSON): a one-word name is an input's only where a message starts with it.
_WORDS = sorted((n for n in _ALL if "_" not in n), key=len, reverse=True)
_NAMES = sorted((n for n in _ALL if "_" in n), key=len, reverse=True)
_NAME = r"(?<![\w./$\"'-])(?P<name>{names})(?:=(?P<value>[^\s),;'\"]+)|\.(?P<field>[\w.]+))?(?![\w\"'-])"
_ANYWHERE = re.compile(_NAME.format(names="|".join(_NAMES)))
_IN_TEXT = re.compile(_NAME.format(names="|".join([*_NAMES, *(f"^{w}(?=[:.=])" for w in _WORDS)])))
# The "name:" or "name.field:" an error message starts with: which input is wrong.
_SOURCE = re.compile(r"^(?:" + "|".join(sorted(_ALL, key=len, reverse=True)) + r")(?:\.[\w.]+)?(?=:)")
# What an error quotes from its input: repr'd strings and lists of keys.
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|\[[^\]]*\]")


def flag_names(text: str) -> str:
    """`text`, all of it the program's own, with each input or option name written as its flag."""
    return _IN_TEXT.sub(_as_flag, text)


def _as_flag(match: re.Match) -> str:
    name, value, field = match["name"], match["value"], match["field"]
    if value is not None:
        return flag(name) if name in _BOOLS and value.lower() == "true" else f"{flag(name)} {value}"
    return f"{flag(name)}'s {field}" if field else flag(name)


def error_in_flags(text: str, given: Iterable[str]) -> str:
    """An error's message with the names the program wrote as flags, and the user's text as it was."""
    source = _SOURCE.match(text)
    # With its colon, so a one-word name ("model:") reads as the input's.
    head, rest = (flag_names(text[:source.end() + 1])[:-1], text[source.end():]) if source else ("", text)
    kept = [m.span() for m in _QUOTED.finditer(rest)]
    for value in {v.strip().rstrip("/") for v in given} - {""}:
        # Whole words only: a value such as "e" must not shield every name spelled with an e.
        kept += [m.span() for m in re.finditer(rf"(?<!\w){re.escape(value)}(?!\w)", rest)]
    out, at = [], 0
    for start, end in sorted(kept):
        if start >= at:
            out += [_ANYWHERE.sub(_as_flag, rest[at:start]), rest[start:end]]
            at = end
        elif end > at:  # overlapping spans: keep the union as the user's
            out.append(rest[at:end])
            at = end
    return head + "".join(out) + _ANYWHERE.sub(_as_flag, rest[at:])


class FlagNames(logging.Filter):
    """Renames the program's names into flags in every record passing a handler; `given`: the
    values on the command line, never renamed."""

    def __init__(self, given: Iterable[str] = ()) -> None:
        super().__init__()
        self.given = tuple(given)

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = flag_names(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(error_in_flags(str(a), self.given) if isinstance(a, Exception) else a
                                for a in record.args)
        return True
