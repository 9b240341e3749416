"""component.validate against real SavedModels written by TensorFlow, compared with what TensorFlow reads."""

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import tensorflow as tf
from tests.support.command import REPO
from google.protobuf import text_format
from tests.support.savedmodels import make_keras_model, make_module_model
from tensorflow.core.protobuf import saved_model_pb2

from component.errors import InputError
from component.stores.trees import local_model
from component.savedmodel.inspect import (
    ModelSummary,
    TensorSpec,
    TFRecordError,
    check_model,
    count_tfrecords,
    deep_check_with_tensorflow,
    inspect_model,
    read_model_summary,
)


def inspect_local_model(model_dir: Path, **kwargs) -> ModelSummary:
    return inspect_model(local_model(model_dir, "model", "a test model"), **kwargs)

WARMUP = Path("assets.extra/tf_serving_warmup_requests")


class _Scaler(tf.Module):
    """A small module with two signatures, to save under names other than serving_default."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = tf.Variable(2.0)

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
    def serve(self, x):
        return {"y": x * self.scale}

    @tf.function(input_signature=[tf.TensorSpec(None, tf.string, name="text")])
    def lengths(self, text):
        return {"n": tf.strings.length(text)}


@pytest.fixture(scope="session")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {
        "module": make_module_model(root / "module"),
        "keras": make_keras_model(root / "keras"),
    }


@pytest.fixture(scope="session")
def renamed_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("renamed") / "model"
    module = _Scaler()
    tf.saved_model.save(module, str(path), signatures={"predict": module.serve, "serving_alt": module.lengths})
    return path


def _save_tf1_model(path: Path, tag_sets: list[list[str]]) -> Path:
    """A graph-mode SavedModel with one MetaGraph per tag set, like TF1 Estimator exports."""
    with tf.Graph().as_default() as graph, tf.compat.v1.Session(graph=graph) as session:
        x = tf.compat.v1.placeholder(tf.float32, [None, 3], name="x")
        y = tf.identity(x * 2.0, name="y")
        signature = tf.compat.v1.saved_model.predict_signature_def({"x": x}, {"y": y})
        builder = tf.compat.v1.saved_model.Builder(str(path))
        first, *rest = tag_sets
        builder.add_meta_graph_and_variables(session, first, signature_def_map={"serving_default": signature})
        for tags in rest:
            builder.add_meta_graph(tags, signature_def_map={"serving_default": signature})
        builder.save()
    return path


def _tensorflow_signatures(model_dir: Path) -> dict:
    """(dtype, shape) of every input and output of every signature, as TensorFlow itself reports them."""

    def spec(tensor_spec):
        shape = None if tensor_spec.shape.rank is None else tuple(tensor_spec.shape.as_list())
        return tensor_spec.dtype.name, shape

    loaded = tf.saved_model.load(str(model_dir))
    return {
        key: (
            {name: spec(s) for name, s in fn.structured_input_signature[1].items()},
            {name: spec(s) for name, s in fn.structured_outputs.items()},
        )
        for key, fn in loaded.signatures.items()
    }


def _ours(summary: ModelSummary) -> dict:
    return {
        key: (
            {name: (s.dtype, s.shape) for name, s in signature.inputs.items()},
            {name: (s.dtype, s.shape) for name, s in signature.outputs.items()},
        )
        for key, signature in summary.signatures.items()
    }


def _write_warmup(model_dir: Path, records: list[bytes]) -> Path:
    path = model_dir / WARMUP
    path.parent.mkdir(exist_ok=True)
    with tf.io.TFRecordWriter(str(path)) as writer:
        for record in records:
            writer.write(record)
    return path


def _copy(model_dir: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(model_dir, tmp_path / model_dir.name))


@pytest.mark.parametrize("kind", ["module", "keras"])
def test_reads_signatures_as_tensorflow_does(models, kind):
    summary = inspect_local_model(models[kind])

    assert summary.tag_sets == [("serve",)]
    assert summary.warmup_records is None
    assert _ours(summary) == _tensorflow_signatures(models[kind])
    assert all(s.method == "tensorflow/serving/predict" for s in summary.signatures.values())


@pytest.mark.parametrize("kind", ["module", "keras"])
def test_reads_the_tensorflow_version_that_wrote_the_model(models, kind):
    assert inspect_local_model(models[kind]).tensorflow_version == tf.__version__


def test_module_model_details(models):
    signature = inspect_local_model(models["module"]).signatures["serving_default"]

    assert signature.key == "serving_default"
    assert signature.inputs == {"x": TensorSpec(name="serving_default_x:0", dtype="float32", shape=(None, 3))}
    assert signature.outputs["y"].dtype == "float32"
    assert signature.outputs["y"].shape == (None, 3)


def test_keras_model_has_both_export_signatures(models):
    summary = inspect_local_model(models["keras"], required_signatures=("serving_default", "serve"))

    assert sorted(summary.signatures) == ["serve", "serving_default"]
    assert summary.signatures["serve"].inputs["features"].shape == (None, 4)


def test_renamed_signature_is_refused_with_available_names(renamed_model):
    with pytest.raises(InputError) as error:
        inspect_local_model(renamed_model)

    assert str(error.value) == (
        "model: required signature 'serving_default' is missing; the model has: 'predict', 'serving_alt'"
    )


def test_renamed_model_is_read_correctly(renamed_model):
    summary = inspect_local_model(renamed_model, required_signatures=("predict",))

    assert _ours(summary) == _tensorflow_signatures(renamed_model)
    # Unknown rank (TensorSpec(None)) stays distinguishable from a scalar.
    assert summary.signatures["serving_alt"].inputs["text"] == TensorSpec(
        name="serving_alt_text:0", dtype="string", shape=None
    )
    assert summary.signatures["serving_alt"].outputs["n"].dtype == "int32"


def test_sparse_and_ragged_outputs_are_summarized(tmp_path):
    class Composite(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.int64, name="ids")])
        def serve(self, ids):
            sparse = tf.sparse.from_dense(tf.reshape(tf.cast(ids, tf.float32), [-1, 1]))
            return {"sparse": sparse, "ragged": tf.RaggedTensor.from_row_lengths(ids, [1, 1])}

    module = Composite()
    tf.saved_model.save(module, str(tmp_path / "composite"), signatures={"serving_default": module.serve})

    outputs = inspect_local_model(tmp_path / "composite").signatures["serving_default"].outputs

    assert outputs["sparse"].name and outputs["sparse"].dtype == "float32" and outputs["sparse"].shape == (None, 1)
    assert outputs["ragged"] == TensorSpec(name="", dtype="RaggedTensorSpec", shape=None)


def test_required_extra_signature(models):
    with pytest.raises(InputError) as one:
        inspect_local_model(models["module"], required_signatures=("serving_default", "classify"))
    with pytest.raises(InputError) as two:
        inspect_local_model(models["keras"], required_signatures=("a", "serve", "b"))

    assert str(one.value) == "model: required signature 'classify' is missing; the model has: 'serving_default'"
    assert str(two.value) == (
        "model: required signatures 'a', 'b' are missing; the model has: 'serve', 'serving_default'"
    )


def test_model_without_serve_tag_is_refused_listing_tag_sets(tmp_path):
    model = _save_tf1_model(tmp_path / "train_only", [["train"], ["serve", "gpu"]])

    with pytest.raises(InputError) as error:
        inspect_local_model(model)

    assert str(error.value) == (
        "model: the SavedModel has no MetaGraph tagged 'serve' (tag sets: [('train',), ('serve', 'gpu')])"
    )


def test_serve_metagraph_is_chosen_among_several(tmp_path):
    model = _save_tf1_model(tmp_path / "multi", [["train"], ["serve"]])

    summary = inspect_local_model(model)

    assert summary.tag_sets == [("train",), ("serve",)]
    assert summary.signatures["serving_default"].inputs["x"] == TensorSpec("x:0", "float32", (None, 3))
    assert summary.signatures["serving_default"].outputs["y"] == TensorSpec("y:0", "float32", (None, 3))


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda data: data[: len(data) // 2], id="truncated"),
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: b"<html>Not Found</html>", id="garbage"),
        pytest.param(lambda data: bytes(b ^ 0x5A for b in data[:4096]), id="scrambled"),
    ],
)
def test_corrupt_saved_model_pb_is_an_input_error(models, tmp_path, corrupt):
    model = _copy(models["module"], tmp_path)
    pb = model / "saved_model.pb"
    pb.write_bytes(corrupt(pb.read_bytes()))

    with pytest.raises(InputError, match=r"^model: saved_model.pb is not a valid SavedModel protobuf \(.+\)$"):
        inspect_local_model(model)


def test_missing_saved_model_file(tmp_path):
    with pytest.raises(InputError, match="has no saved_model.pb or saved_model.pbtxt"):
        inspect_local_model(tmp_path)


@pytest.mark.parametrize("kind", ["module", "keras"])
def test_pbtxt_model_is_read(models, tmp_path, kind):
    model = _copy(models[kind], tmp_path)
    pb = model / "saved_model.pb"
    proto = saved_model_pb2.SavedModel.FromString(pb.read_bytes())
    (model / "saved_model.pbtxt").write_text(text_format.MessageToString(proto))
    pb.unlink()

    assert inspect_local_model(model) == inspect_local_model(models[kind])


def test_bad_pbtxt_is_an_input_error():
    with pytest.raises(InputError, match=r"^model: saved_model.pbtxt is not a valid SavedModel protobuf \(.+\)$"):
        read_model_summary(b"meta_graphs { signature_def { key: ", text_format=True)


def test_warmup_records_are_counted(models, tmp_path):
    model = _copy(models["module"], tmp_path)
    _write_warmup(model, [b"request-%d" % i for i in range(5)] + [b""])

    assert inspect_local_model(model).warmup_records == 6


def test_empty_warmup_file_has_zero_records():
    assert count_tfrecords(io.BytesIO(b"")) == 0


@pytest.mark.parametrize(
    ("offset", "reason"),
    [
        # Records are 12 header + 16 data + 4 footer bytes.
        (2 * 32 + 12 + 5, "record 3: data checksum mismatch"),
        (1 * 32 + 2, "record 2: length checksum mismatch"),
        (3 * 32 + 12 + 16 + 1, "record 4: data checksum mismatch"),
    ],
)
def test_warmup_file_with_flipped_byte_is_refused(models, tmp_path, offset, reason):
    model = _copy(models["module"], tmp_path)
    path = _write_warmup(model, [b"request-%08d" % i for i in range(5)])
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))

    with pytest.raises(InputError) as error:
        inspect_local_model(model)

    assert str(error.value) == (
        f"model: assets.extra/tf_serving_warmup_requests is not a readable TFRecord file ({reason})"
    )


def test_truncated_warmup_file_is_refused(models, tmp_path):
    path = _write_warmup(_copy(models["module"], tmp_path), [b"a" * 100, b"b" * 100])
    data = path.read_bytes()

    cuts = [(len(data) - 1, "record 2: truncated data"), (len(data) // 2 + 5, "record 2: truncated header")]
    for cut, reason in cuts:
        with pytest.raises(TFRecordError, match=f"^{reason}$"):
            count_tfrecords(io.BytesIO(data[:cut]))


def test_too_many_warmup_records_are_refused(models, tmp_path):
    model = _copy(models["module"], tmp_path)
    _write_warmup(model, [b"r"] * 1001)

    with pytest.raises(InputError, match="has 1001 records; TensorFlow Serving refuses more than 1000"):
        inspect_local_model(model)


def test_check_model_on_a_summary():
    check_model(ModelSummary(tag_sets=[("serve",)], signatures={}), required_signatures=())
    with pytest.raises(InputError, match="the model has: no signatures$"):
        check_model(ModelSummary(tag_sets=[("serve",)], signatures={}))


def test_deep_check_passes(models):
    deep_check_with_tensorflow(models["module"], ("serving_default",))
    deep_check_with_tensorflow(models["keras"], ("serving_default", "serve"))


def test_deep_check_missing_signature(renamed_model):
    with pytest.raises(InputError) as error:
        deep_check_with_tensorflow(renamed_model, ("serving_default",))

    assert str(error.value) == (
        "model: required signature 'serving_default' is missing; the model has: 'predict', 'serving_alt'"
    )


def test_deep_check_catches_what_the_protos_cannot(models, tmp_path):
    model = _copy(models["module"], tmp_path)
    shutil.rmtree(model / "variables")
    inspect_local_model(model)

    with pytest.raises(InputError, match=r"^model: TensorFlow cannot load the SavedModel \(.+\)$"):
        deep_check_with_tensorflow(model, ("serving_default",))


def test_deep_check_without_tensorflow(models, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow", None)

    with pytest.raises(InputError, match="^deep check: TensorFlow is not installed"):
        deep_check_with_tensorflow(models["module"], ("serving_default",))


def test_validation_does_not_import_tensorflow():
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import component.savedmodel.inspect, component.savedmodel.protos, sys; assert 'tensorflow' not in sys.modules",
        ],
        cwd=REPO,
        check=True,
    )
