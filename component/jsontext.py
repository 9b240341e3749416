"""The one reader of JSON that decides a push (KFP's executor input, a PushDestination): strict
where Python's json module is lenient, so a document means one thing and a hostile one is one
clear line, not a traceback."""

import json
from typing import Any

from component.errors import InputError

# Far deeper than any executor input (about 8 levels), far shallower than the recursion limit.
MAX_DEPTH = 64
# int() refuses more digits than this (sys.int_info.default_max_str_digits) with a ValueError.
MAX_DIGITS = 4300


class _Refused(Exception):
    pass


def load_json(text: str, source: str) -> Any:
    """Parse `text`; InputError naming `source` for invalid JSON, a key given twice in one object
    (which would otherwise silently take the last value), NaN or Infinity (or a number too big to
    be finite), an integer of more than MAX_DIGITS digits, or nesting deeper than MAX_DEPTH."""
    try:
        doc = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant,
                         parse_int=_bounded_int, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise InputError(f"{source}: is not valid JSON ({exc.msg} at character {exc.pos})") from None
    except _Refused as exc:
        raise InputError(f"{source}: {exc}") from None
    except RecursionError:
        raise InputError(f"{source}: nested deeper than {MAX_DEPTH} levels") from None
    _check_depth(doc, source)
    return doc


def is_json(text: str) -> bool:
    """Whether `text` is JSON of any kind, valid or not in the strict sense of load_json."""
    try:
        load_json(text, "")
    except InputError as exc:
        return "is not valid JSON" not in str(exc)
    return True


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    for key, value in pairs:
        if key in doc:
            raise _Refused(f"the key {key[:40]!r} appears twice in one object")
        doc[key] = value
    return doc


def _no_constant(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _bounded_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_DIGITS:
        raise _Refused(f"an integer of {len(digits.lstrip('-'))} digits is far beyond any value here")
    return int(digits)


def _finite_float(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise _Refused(f"the number {text[:40]} is too big to be finite")
    return number


def _check_depth(doc: Any, source: str) -> None:
    level = [doc]
    for _ in range(MAX_DEPTH):
        level = [c for v in level for c in (v.values() if isinstance(v, dict) else v if isinstance(v, list) else ())]
        if not level:
            return
    raise InputError(f"{source}: nested deeper than {MAX_DEPTH} levels")
