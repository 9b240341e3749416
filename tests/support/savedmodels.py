"""SavedModels made by TensorFlow for the tests (imported lazily: only tests need TensorFlow)."""

from pathlib import Path


def make_module_model(path: Path, scale: float = 2.0) -> Path:
    """A tf.Module with a `serving_default` signature: y = x * scale + bias, plus an asset file."""
    import tensorflow as tf

    class Scaler(tf.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = tf.Variable(scale, name="scale")
            self.bias = tf.Variable(0.5, name="bias")

        @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32, name="x")])
        def serve(self, x):
            return {"y": x * self.scale + self.bias}

    module = Scaler()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return Path(path)


def make_keras_model(path: Path) -> Path:
    """A Keras 3 model exported with model.export (the layout Keras users push)."""
    import keras
    import numpy as np

    model = keras.Sequential([keras.Input(shape=(4,), name="features"), keras.layers.Dense(2, name="dense")])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((8, 4), "float32"), np.zeros((8, 2), "float32"), epochs=1, verbose=0)
    model.export(str(path), format="tf_saved_model", verbose=False)
    return Path(path)


def serve(model_dir: Path, inputs):
    """Load a SavedModel with TensorFlow and call its serving signature; returns numpy outputs."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(model_dir))
    fn = loaded.signatures["serving_default"]
    arg_name = next(iter(fn.structured_input_signature[1]))
    return {k: v.numpy() for k, v in fn(**{arg_name: tf.constant(inputs, tf.float32)}).items()}


def warmup_file_bytes(path: Path, records: int = 3) -> bytes:
    """A TFRecord file written by TensorFlow, as InfraValidator's warmup requests are."""
    import tensorflow as tf

    with tf.io.TFRecordWriter(str(path)) as writer:
        for i in range(records):
            example = tf.train.Example(features=tf.train.Features(feature={
                "x": tf.train.Feature(float_list=tf.train.FloatList(value=[float(i), 1.0, 2.0])),
            }))
            writer.write(example.SerializeToString())
    return Path(path).read_bytes()
