"""Check a SavedModel before it is pushed, without TensorFlow.

Why: a model that TensorFlow Serving cannot serve (no 'serve' MetaGraph, a renamed signature, a
corrupt warmup file) should be refused here, with one clear line, instead of being published and
then failing to load in production. The push image has no TensorFlow, so this reads only the
SignatureDefs through the minimal protos in `protos` (milliseconds even for large
graphs). `deep_check_with_tensorflow` is the opt-in, slow, TensorFlow-backed complement.
"""

import dataclasses
import io
import logging
import struct
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import google_crc32c
from google.protobuf import message as _message
from google.protobuf import text_format as _text_format

from component.errors import InputError
from component.model import Model
from component.stores.progress import Progress
from component.savedmodel import protos
from component.stores.local_files import copy_model
from component.stores.registry import is_remote
from component.stores.transfer import read_small

log = logging.getLogger(__name__)

SERVE_TAG = "serve"
WARMUP_FILE = "assets.extra/tf_serving_warmup_requests"
# TensorFlow Serving refuses to load a model whose warmup file has more records than this
# (WarmupConsts::kMaxNumRecords in tensorflow_serving/servables/tensorflow/saved_model_warmup_util.h).
MAX_WARMUP_RECORDS = 1000
# TF2 saves its initializer as a pseudo-signature; TensorFlow hides it from `loaded.signatures`
# and nobody can call it, so it is not reported as one of the model's signatures.
_INIT_OP_SIGNATURE_KEY = "__saved_model_init_op"


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a signature, as TensorFlow Serving will expect or return it.

    `name` is the graph tensor (the values tensor of a sparse one, "" for a composite one);
    `dtype` is TensorFlow's Python name ('float32'), or the TypeSpec class for a composite tensor
    ('RaggedTensorSpec'); `shape` is None when the rank is unknown, with None for unknown dims.
    """

    name: str
    dtype: str
    shape: tuple[int | None, ...] | None


@dataclass(frozen=True)
class Signature:
    """A SignatureDef of the serving MetaGraph: what clients call by `key`."""

    key: str
    method: str
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]


@dataclass(frozen=True)
class ModelSummary:
    """What the push needs to know about a SavedModel, read without TensorFlow.

    `signatures` are those of the MetaGraph tagged exactly {'serve'} (the one TensorFlow Serving
    loads by default), empty when there is none; `tag_sets` lists every MetaGraph's tags so the
    error can show what the model has instead. `warmup_records` is None when the model ships no
    warmup file. `tensorflow_version` is the TensorFlow that wrote the model ("" if unrecorded).
    """

    tag_sets: list[tuple[str, ...]]
    signatures: dict[str, Signature]
    warmup_records: int | None = None
    tensorflow_version: str = ""


def tensor_text(name: str, spec: TensorSpec) -> str:
    if spec.shape is None:
        shape = "unknown rank"
    else:
        shape = "[" + ", ".join("?" if d is None else str(d) for d in spec.shape) + "]"
    return f"{name}: {spec.dtype} {shape}"


def signature_line(sig: Signature) -> str:
    """One line: `key(inputs) -> outputs`, each tensor with its dtype and shape."""
    inputs = ", ".join(tensor_text(n, s) for n, s in sig.inputs.items())
    outputs = ", ".join(tensor_text(n, s) for n, s in sig.outputs.items())
    return f"{sig.key}({inputs}) -> {outputs}"


class TFRecordError(ValueError):
    """A TFRecord stream is truncated or fails a checksum; the message names the record."""


def read_model_summary(saved_model_bytes: bytes, *, text_format: bool = False) -> ModelSummary:
    """Summarize the contents of saved_model.pb (or of saved_model.pbtxt with `text_format`).

    Raises InputError when the bytes are not a SavedModel, so a corrupt upload is reported rather
    than crashing the component. Does not judge whether the model is servable: see check_model.
    Binary input costs well under a millisecond whatever the graph size; text input goes through
    protobuf's pure-Python parser, about a second per 10 MB of pbtxt.
    """
    file_name = "saved_model.pbtxt" if text_format else "saved_model.pb"
    proto = protos.SavedModel()
    try:
        if text_format:
            # The file holds the whole GraphDef and object graph, which the reduced protos skip.
            _text_format.Parse(saved_model_bytes, proto, allow_unknown_field=True, allow_unknown_extension=True)
        else:
            proto.ParseFromString(saved_model_bytes)
    except (_message.DecodeError, _text_format.ParseError, UnicodeDecodeError) as exc:
        raise InputError(f"model: {file_name} is not a valid SavedModel protobuf ({exc})") from exc
    # Empty or unrelated bytes can decode as an empty message: a SavedModel always has a MetaGraph.
    if not proto.meta_graphs:
        raise InputError(f"model: {file_name} is not a valid SavedModel protobuf (it has no MetaGraph)")

    tag_sets = [tuple(meta_graph.meta_info_def.tags) for meta_graph in proto.meta_graphs]
    # TensorFlow's loader picks the first MetaGraph whose tag set equals the requested one exactly.
    serving = next((mg for mg in proto.meta_graphs if set(mg.meta_info_def.tags) == {SERVE_TAG}), None)
    signatures = {}
    if serving is not None:
        signatures = {
            key: Signature(
                key=key,
                method=signature_def.method_name,
                inputs={name: _tensor_spec(info) for name, info in sorted(signature_def.inputs.items())},
                outputs={name: _tensor_spec(info) for name, info in sorted(signature_def.outputs.items())},
            )
            for key, signature_def in sorted(serving.signature_def.items())
            if key != _INIT_OP_SIGNATURE_KEY
        }
    written_by = (serving or proto.meta_graphs[0]).meta_info_def.tensorflow_version
    return ModelSummary(tag_sets=tag_sets, signatures=signatures, tensorflow_version=written_by)


def _tensor_spec(info: _message.Message) -> TensorSpec:
    encoding = info.WhichOneof("encoding")
    if encoding == "composite_tensor":
        return TensorSpec(name="", dtype=info.composite_tensor.type_spec.type_spec_class_name, shape=None)
    name = info.coo_sparse.values_tensor_name if encoding == "coo_sparse" else info.name
    # An absent shape means TensorFlow recorded none, not a scalar.
    if not info.HasField("tensor_shape") or info.tensor_shape.unknown_rank:
        shape = None
    else:
        shape = tuple(dim.size if dim.size >= 0 else None for dim in info.tensor_shape.dim)
    return TensorSpec(name=name, dtype=protos.dtype_name(info.dtype), shape=shape)


def check_model(summary: ModelSummary, required_signatures: Sequence[str] = ("serving_default",)) -> None:
    """Refuse, with InputError, a model TensorFlow Serving would not load or clients could not call."""
    if not any(set(tags) == {SERVE_TAG} for tags in summary.tag_sets):
        raise InputError(
            f"model: the SavedModel has no MetaGraph tagged '{SERVE_TAG}' (tag sets: {summary.tag_sets})"
        )
    _check_signatures_present(required_signatures, summary.signatures.keys())
    if summary.warmup_records is not None and summary.warmup_records > MAX_WARMUP_RECORDS:
        raise InputError(
            f"model: {WARMUP_FILE} has {summary.warmup_records} records; "
            f"TensorFlow Serving refuses more than {MAX_WARMUP_RECORDS}"
        )


def _check_signatures_present(required: Sequence[str], available: Collection[str]) -> None:
    missing = [key for key in required if key not in available]
    if not missing:
        return
    have = ", ".join(f"'{key}'" for key in sorted(available)) or "no signatures"
    if len(missing) == 1:
        raise InputError(f"model: required signature '{missing[0]}' is missing; the model has: {have}")
    wanted = ", ".join(f"'{key}'" for key in missing)
    raise InputError(f"model: required signatures {wanted} are missing; the model has: {have}")


def _masked_crc32c(data: bytes) -> int:
    # TFRecord stores a rotated-and-offset CRC so that CRCs of data containing CRCs stay strong.
    crc = google_crc32c.value(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def count_tfrecords(stream: BinaryIO) -> int:
    """Count the records of an uncompressed TFRecord stream, verifying framing and both checksums.

    Each record is: uint64 length, masked CRC32C of the length, data, masked CRC32C of the data
    (little-endian). Raises TFRecordError naming the 1-based record, so the caller can say which
    file it was: TensorFlow Serving would otherwise fail the model load at warmup time.
    """
    count = 0
    while header := stream.read(12):
        record = count + 1
        if len(header) < 12:
            raise TFRecordError(f"record {record}: truncated header")
        length_bytes, length_crc = header[:8], struct.unpack("<I", header[8:])[0]
        if _masked_crc32c(length_bytes) != length_crc:
            raise TFRecordError(f"record {record}: length checksum mismatch")
        length = struct.unpack("<Q", length_bytes)[0]
        data = stream.read(length)
        footer = stream.read(4)
        if len(data) < length or len(footer) < 4:
            raise TFRecordError(f"record {record}: truncated data")
        if _masked_crc32c(data) != struct.unpack("<I", footer)[0]:
            raise TFRecordError(f"record {record}: data checksum mismatch")
        count = record
    return count


def inspect_model(model: Model, required_signatures: Sequence[str] = ("serving_default",)) -> ModelSummary:
    """Read and check a SavedModel as TensorFlow Serving would load it; return its summary.

    Like TensorFlow's loader, saved_model.pb wins over saved_model.pbtxt when both exist.
    Raises InputError for anything that would make the push publish an unservable model.
    """
    files = {f.rel: f for f in model.files}
    graph = files.get("saved_model.pb") or files.get("saved_model.pbtxt")
    if graph is None:
        raise InputError(f"model: {model.root} has no saved_model.pb or saved_model.pbtxt")
    try:
        graph_bytes, *warmup = read_small([graph, *([files[WARMUP_FILE]] if WARMUP_FILE in files else [])])
        summary = read_model_summary(graph_bytes, text_format=graph.rel.endswith(".pbtxt"))
        if warmup:
            summary = dataclasses.replace(summary, warmup_records=count_tfrecords(io.BytesIO(warmup[0])))
    except OSError as exc:
        raise InputError(f"model: cannot read {model.root} ({exc})") from exc
    except TFRecordError as exc:
        raise InputError(f"model: {WARMUP_FILE} is not a readable TFRecord file ({exc})") from exc
    check_model(summary, required_signatures)
    return summary


def deep_check(model: Model, required_signatures: Sequence[str] = ("serving_default",)) -> None:
    """deep_check_with_tensorflow on the model wherever it is: one in a store is loaded from a local
    copy (TensorFlow's own store access is not what the push uses: credentials, emulators)."""
    if is_remote(model.root):
        import tempfile  # only this check needs it; every start would load it otherwise

        with tempfile.TemporaryDirectory(prefix="model-pusher-deep-check-") as tmp:
            copy_model(model, Path(tmp), Progress(f"Downloading {model.root} for the deep check", len(model.files),
                                                  model.total_bytes))
            deep_check_with_tensorflow(Path(tmp), required_signatures)
    else:
        deep_check_with_tensorflow(Path(model.root), required_signatures)
    log.info("TensorFlow loaded the model and found its required signatures.")


def deep_check_with_tensorflow(model_dir: Path, required_signatures: Sequence[str] = ("serving_default",)) -> None:
    """Load the model with TensorFlow itself and check the required signatures were restored.

    Catches what reading the protos cannot: missing or corrupt variables, ops unknown to this
    TensorFlow build, unrestorable functions. It does not run the signatures (that needs real
    inputs). TensorFlow is imported here only, so the push path works in an image without it.
    """
    try:
        import tensorflow as tf
    except ImportError as exc:
        raise InputError(
            f"deep check: TensorFlow is not installed ({exc}); use an image with TensorFlow or turn the deep check off"
        ) from exc
    try:
        loaded = tf.saved_model.load(str(model_dir), tags=[SERVE_TAG])
    # TensorFlow reports an unloadable model through many exception types (OSError, ValueError,
    # tf.errors.*, KeyError from the object graph); all of them mean the same thing to the user.
    except Exception as exc:
        reason = next(iter(str(exc).strip().splitlines()), type(exc).__name__)
        raise InputError(f"model: TensorFlow cannot load the SavedModel ({reason})") from exc
    _check_signatures_present(required_signatures, loaded.signatures.keys())
