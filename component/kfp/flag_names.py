"""Messages in the words of the interface the user typed: a pipeline author sets
force_new_version, a command-line user types --force-new-version. The core names every input the
KFP way; on the command line each log line is rewritten here, in one place."""

import logging
import re

from component.kfp.options import INPUT_ARTIFACTS, OPTIONS, OUTPUT_ARTIFACT, REPORT_ARTIFACT

_BOOLS = {o.name for o in OPTIONS if o.kind is bool}
_ALL = {o.name for o in OPTIONS} | set(INPUT_ARTIFACTS) | {OUTPUT_ARTIFACT, REPORT_ARTIFACT}
# "model" and "versioning" are also ordinary words (and "versioning" a field of the destination
# JSON): a one-word name is an input's only where a message starts with it.
_WORDS = sorted((n for n in _ALL if "_" not in n), key=len, reverse=True)
_NAMES = sorted((n for n in _ALL if "_" in n), key=len, reverse=True)
_NAME = re.compile(
    r'(?<![\w./$"-])(?P<name>' + "|".join(_NAMES) + "|" + "|".join(f"^{w}(?=[:.=])" for w in _WORDS) + ")"
    r'(?:=(?P<value>[^\s),;]+)|\.(?P<field>[\w.]+))?(?![\w"-])'
)


def flag(name: str) -> str:
    return f"--{name.replace('_', '-')}"


def flag_names(text: str) -> str:
    """`text` with each input or option name written as the flag that sets it."""
    return _NAME.sub(_as_flag, text)


def _as_flag(match: re.Match) -> str:
    name, value, field = match["name"], match["value"], match["field"]
    if value is not None:
        return flag(name) if name in _BOOLS and value.lower() == "true" else f"{flag(name)} {value}"
    return f"{flag(name)}'s {field}" if field else flag(name)


class FlagNames(logging.Filter):
    """Rewrites every record passing a handler into flag names."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = flag_names(record.getMessage()), None
        return True
