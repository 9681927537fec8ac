"""One preprocessing path (harness.model_server.preprocess) for training, serving and the tests:
held to docs/model-artifact.md here, and the shipped artifact's test images sent through the real
server must give back the predictions and figures training recorded in its metrics.json."""

from __future__ import annotations

import json
import tarfile

import numpy as np
import pytest
from PIL import Image

from harness.config import DEFAULT_MODEL_ARTIFACT
from harness.dataset import listed_images
from harness.model_server import start_model_server
from harness.model_server.preprocess import metadata_input
from tests.model_server.ms_helpers import ENDPOINT, local_settings, runtime_client

# Distinct per channel and a non-square size, so that a swapped axis or channel shows.
METADATA = {
    "input": {"height": 16, "width": 24},
    "normalization": {"scale": 1 / 255, "mean": [0.1, 0.5, 0.9], "std": [0.2, 0.3, 0.4]},
}


def documented(image: Image.Image, metadata: dict) -> np.ndarray:
    """docs/model-artifact.md's steps, in float64: RGB, bilinear resize when the size differs,
    (pixel * scale - mean[c]) / std[c], channels first."""
    spec, norm = metadata["input"], metadata["normalization"]
    image = image.convert("RGB")
    if image.size != (spec["width"], spec["height"]):
        image = image.resize((spec["width"], spec["height"]), Image.Resampling.BILINEAR)
    pixels = np.asarray(image, dtype=np.float64)
    return np.stack(
        [(pixels[:, :, c] * norm["scale"] - norm["mean"][c]) / norm["std"][c] for c in range(3)]
    )


@pytest.mark.parametrize(
    ("mode", "size"),
    [("RGB", (24, 16)), ("RGB", (61, 45)), ("RGBA", (7, 9)), ("P", (40, 30)), ("L", (24, 16))],
)
def test_preprocessing_follows_the_artifact_docs(mode, size):
    # GIVEN an image of some mode and size, noisy so that every pixel differs WHEN it is
    # preprocessed THEN it is the documented network input, float32 and channels first
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    image = Image.fromarray(pixels, "RGB").convert(mode)

    x = metadata_input(image, METADATA)

    assert x.dtype == np.float32 and x.shape == (3, 16, 24) and x.flags.c_contiguous
    np.testing.assert_allclose(x, documented(image, METADATA), rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def shipped_metrics() -> dict:
    with tarfile.open(DEFAULT_MODEL_ARTIFACT, "r:gz") as tar:
        return json.loads(tar.extractfile("metrics.json").read())


@pytest.fixture(scope="module")
def shipped_server():
    handle = start_model_server(local_settings(), model_artifact=DEFAULT_MODEL_ARTIFACT)
    yield handle
    handle.stop()


def test_shipped_model_through_the_server_gives_its_metrics(
    shipped_server, shipped_metrics, data_dir
):
    # GIVEN the shipped model.tar.gz served as the endpoint WHEN every test PNG is sent the way
    # the classify Lambda sends it THEN each answer is the prediction training recorded, and
    # accuracy, coverage, accuracy at the threshold and the confusion matrix follow
    runtime = runtime_client(shipped_server.url)
    images = listed_images(data_dir)
    probs = np.array(
        [
            json.loads(
                runtime.invoke_endpoint(
                    EndpointName=ENDPOINT, ContentType="image/png", Body=image.path.read_bytes()
                )["Body"].read()
            )
            for image in images
        ]
    )
    labels = np.array([image.label for image in images])
    metrics = shipped_metrics

    baseline = {p["path"]: p for p in metrics["test_predictions"]}
    assert len(images) == len(baseline) == metrics["test_images"]
    for image, row in zip(images, probs, strict=True):
        assert baseline[image.key]["label"] == image.label
        np.testing.assert_allclose(row, baseline[image.key]["probabilities"], atol=1e-5)

    predicted = probs.argmax(1)
    right = predicted == labels
    accepted = probs.max(1) >= metrics["threshold"]
    assert right.mean() == pytest.approx(metrics["accuracy"], abs=1e-9)
    assert accepted.sum() == metrics["accepted"]
    assert accepted.mean() == pytest.approx(metrics["coverage"], abs=1e-9)
    assert right[accepted].mean() == pytest.approx(metrics["accuracy_at_threshold"])
    confusion = np.zeros((2, 2), dtype=int)
    np.add.at(confusion, (labels, predicted), 1)
    assert confusion.tolist() == metrics["confusion_matrix"]
