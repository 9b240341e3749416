"""Parse where to push: TFX's PushDestination JSON exactly as TFX users write it, or a bare path."""

import enum
import logging
from dataclasses import dataclass

from component.errors import InputError
from component.jsontext import is_json, load_json
from component.stores.mounts import check_path_text, gcs_uri_of_mount
from component.runtime.redact import redacted
from component.stores.registry import SCHEMES as OBJECT_STORE_SCHEMES
from component.stores.registry import bucket_name_problem

log = logging.getLogger(__name__)


class Versioning(enum.Enum):
    """How a new version number is chosen.

    AUTO and UNIX_TIMESTAMP are TFX's (the Unix time in seconds); SEQUENTIAL is ours: the next
    integer above the highest version present, for teams that want 1, 2, 3, ...
    """

    AUTO = "AUTO"
    UNIX_TIMESTAMP = "UNIX_TIMESTAMP"
    SEQUENTIAL = "SEQUENTIAL"


# TFX's proto enum numbers, which protobuf's JSON parser also accepts.
_ENUM_NUMBERS = {0: Versioning.AUTO, 1: Versioning.UNIX_TIMESTAMP}


@dataclass(frozen=True)
class Destination:
    base: str  # a local path or a gs:// / s3:// / minio:// URI, without a trailing slash
    versioning: Versioning
    versioning_stated: bool = True  # False: AUTO because neither the JSON nor an option named one


def parse_versioning(value: object, source: str = "versioning") -> Versioning:
    """Accept a name in any case, or TFX's enum number."""
    if isinstance(value, bool):
        raise InputError(f"{source}: expected one of {_names()}, got {value!r}")
    if isinstance(value, int) and value in _ENUM_NUMBERS:
        return _ENUM_NUMBERS[value]
    if isinstance(value, str) and value.strip().upper() in Versioning.__members__:
        return Versioning[value.strip().upper()]
    raise InputError(f"{source}: expected one of {_names()}, got {value!r}")


def _names() -> str:
    return ", ".join(Versioning.__members__)


def parse_destination(text: str, versioning_override: str = "") -> Destination:
    """`text` is PushDestination JSON or a bare base directory; an explicit versioning wins."""
    text = (text or "").strip()
    if not text:
        raise InputError("push_destination: is empty; give a base directory or PushDestination JSON")
    if text.startswith("{"):
        base, versioning = _parse_json(text)
    else:
        _refuse_other_json(text)
        base, versioning = text, None
    if versioning_override:
        versioning = parse_versioning(versioning_override)
    return Destination(base=_normalise_base(base), versioning=versioning or Versioning.AUTO,
                       versioning_stated=versioning is not None)


def _refuse_other_json(text: str) -> None:
    """JSON that is not an object ([], "", 5, null, true) is a mistake, most likely a templating
    error in a pipeline; read as a bare path it would become a relative directory named after it."""
    if not is_json(text):
        return  # not JSON: a bare base directory
    doc = load_json(text, "push_destination")
    raise InputError(
        f"push_destination: {text[:40]!r} is a JSON {_JSON_NAMES.get(type(doc), 'value')}, not a PushDestination "
        f"object {SHAPE}; write a directory of that name as ./NAME"
    )


# What a PushDestination looks like, shown whenever one is malformed.
SHAPE = '{"filesystem": {"base_directory": ..., "versioning": "AUTO"}}'
FIELDS = f"base_directory (required) and versioning ({', '.join(v.value for v in Versioning)})"


_JSON_NAMES = {list: "array", str: "string", int: "number", float: "number", bool: "boolean", type(None): "null"}


def _parse_json(text: str) -> tuple[str, Versioning | None]:
    doc = load_json(text, "push_destination")
    if not isinstance(doc, dict) or set(doc) != {"filesystem"} or not isinstance(doc["filesystem"], dict):
        raise InputError(
            f"push_destination: expected {SHAPE} (the fields of filesystem are {FIELDS}), "
            f"got keys {sorted(doc) if isinstance(doc, dict) else type(doc).__name__}"
        )
    fs = dict(doc["filesystem"])
    base = fs.pop("base_directory", None)
    if base is None:
        base = fs.pop("baseDirectory", None)
    versioning = (parse_versioning(fs.pop("versioning"), "push_destination.filesystem.versioning")
                  if "versioning" in fs else None)
    if fs:
        raise InputError(
            f"push_destination.filesystem: unknown field(s) {sorted(fs)}; its fields are {FIELDS}, as in {SHAPE}"
        )
    if not isinstance(base, str) or not base.strip():
        raise InputError("push_destination.filesystem.base_directory: is missing or empty")
    return base.strip(), versioning


def _normalise_base(base: str) -> str:
    check_path_text(base, "push_destination")
    mounted = gcs_uri_of_mount(base)
    if mounted:
        # Directory renames on a FUSE mount of GCS are copies, not atomic; the GCS API can publish safely.
        log.info("push_destination %s is on the GCS mount; publishing to %s through the GCS API.", base, mounted)
        base = mounted
    if "://" in base:
        scheme, _, rest = base.partition("://")
        if scheme not in OBJECT_STORE_SCHEMES:
            raise InputError(
                f"push_destination: scheme {scheme}:// is not supported; use gs://, s3://, minio:// or a local path"
            )
        if not rest.strip("/") or rest.startswith("/"):
            raise InputError(f"push_destination: {base!r} names no bucket")
        problem = bucket_name_problem(scheme, rest.partition("/")[0])
        if problem:
            raise InputError(f"push_destination: {redacted(base)!r} names no valid bucket: {problem}")
        if ".." in base.split("/"):
            # A literal object name to GCS, a step up on the /gcs mount: the two would disagree.
            raise InputError(f"push_destination: {base!r} has a '..' segment")
        return base.rstrip("/")
    return base.rstrip("/") or "/"
