"""Train -> evaluate -> push: a tiny Keras model, blessed only when its error passes a threshold,
then pushed by this component (which pushes nothing when the evaluation did not bless it).

Compile: python -m pipelines.compile  ->  pipelines/compiled/train_evaluate_push.yaml
"""

from kfp import dsl
from kfp.dsl import Artifact, Input, Metrics, Model, Output

from .pusher import model_pusher
from .steps import announce_version

# The training and evaluation steps need TensorFlow; the pusher's own image does not.
TF_PACKAGES = ["tensorflow-cpu==2.21.0"]


@dsl.component(base_image="python:3.11-slim", packages_to_install=TF_PACKAGES)
def train(model: Output[Model], epochs: int = 40, seed: int = 0):
    """Fit y = 2a - b + 0.5c + 1 with one Dense layer and export a SavedModel for serving."""
    import keras
    import numpy as np

    keras.utils.set_random_seed(seed)
    x = np.random.default_rng(seed).uniform(-1, 1, size=(256, 3)).astype("float32")
    y = x @ np.array([[2.0], [-1.0], [0.5]], "float32") + 1.0
    net = keras.Sequential([keras.Input(shape=(3,), name="x"), keras.layers.Dense(1, name="y")])
    net.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    net.fit(x, y, epochs=epochs, batch_size=32, verbose=0)
    net.export(model.path, format="tf_saved_model", verbose=False)
    model.metadata["framework"] = "keras"


@dsl.component(base_image="python:3.11-slim", packages_to_install=TF_PACKAGES)
def evaluate(model: Input[Model], blessing: Output[Artifact], metrics: Output[Metrics],
             max_mse: float = 0.01, seed: int = 1):
    """Serve the exported model on fresh data; bless it when its mean squared error <= max_mse.

    The blessing is written as TFX's Evaluator writes it: a BLESSED or NOT_BLESSED file, and the
    `blessed` property (1 / 0), so the pusher reads it like any Evaluator's.
    """
    import os

    import numpy as np
    import tensorflow as tf

    x = np.random.default_rng(seed).uniform(-1, 1, size=(128, 3)).astype("float32")
    y = x @ np.array([[2.0], [-1.0], [0.5]], "float32") + 1.0
    serving = tf.saved_model.load(model.path).signatures["serving_default"]
    predicted = next(iter(serving(x=tf.constant(x)).values())).numpy()
    mse = float(np.mean((predicted - y) ** 2))
    blessed = mse <= max_mse
    metrics.log_metric("mse", mse)
    os.makedirs(blessing.path, exist_ok=True)
    open(os.path.join(blessing.path, "BLESSED" if blessed else "NOT_BLESSED"), "w").close()
    blessing.metadata.update(blessed=int(blessed), mse=mse, max_mse=max_mse)


@dsl.pipeline(name="train-evaluate-push", description="Train a tiny Keras model, bless it if good enough, push it.")
def pipeline(
    push_destination: str = '{"filesystem": {"base_directory": "gs://my-bucket/serving/tiny_model"}}',
    max_mse: float = 0.01,
) -> None:
    trained = train()
    evaluated = evaluate(model=trained.outputs["model"], max_mse=max_mse)
    push = model_pusher(
        model=trained.outputs["model"],
        model_blessing=evaluated.outputs["blessing"],
        push_destination=push_destination,
    )
    with dsl.If(push.outputs["pushed"] == True):  # noqa: E712 (a KFP condition, not a Python test)
        announce_version(
            pushed_version=push.outputs["pushed_version"],
            pushed_destination=push.outputs["pushed_destination"],
        )
