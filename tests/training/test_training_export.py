"""A one-epoch training on a handful of images, exported and packed like the real artifact."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from harness.errors import HarnessError
from model_training import export
from model_training.dataset import Split, load_split
from model_training.network import BikeNet, whiten_stem
from model_training.preprocess import METADATA
from model_training.train import TrainConfig, assign_folds, augment, predict_logits, train

TINY = TrainConfig(seed=3, folds=2, max_epochs=1, min_epochs=1, batch_size=8, widths=(4, 8, 8))


@pytest.fixture(scope="module")
def handful(data_dir: Path) -> Split:
    full = load_split(data_dir, "train")
    pick = np.concatenate([np.flatnonzero(full.labels == c)[:8] for c in (0, 1)])
    return Split(full.images[pick], full.labels[pick], [full.paths[i] for i in pick])


@pytest.fixture(scope="module")
def trained(handful: Split):
    return train(handful, TINY, progress=False)


def test_one_epoch_gives_an_onnx_graph_that_matches_pytorch(trained, handful, tmp_path):
    path = tmp_path / "model.onnx"
    serving = export.export_onnx(trained.nets, temperature=0.7, path=path)

    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert max(op.version for op in model.opset_import if op.domain in ("", "ai.onnx")) >= 17
    assert [i.name for i in model.graph.input] == ["input"]
    assert [o.name for o in model.graph.output] == ["probabilities"]
    for batch in (1, 5, len(handful.images)):  # the batch dimension is dynamic
        images = handful.images[:batch]
        with torch.no_grad():
            expected = serving(torch.from_numpy(images)).numpy()
        actual = export.onnx_probabilities(path, images)
        assert actual.shape == (batch, 2)
        np.testing.assert_allclose(actual, expected, atol=1e-4, rtol=0)
        np.testing.assert_allclose(actual.sum(axis=1), 1.0, atol=1e-5)


def test_float16_weights_halve_the_graph_and_keep_its_answers(trained, handful, tmp_path):
    path = _export(trained, 1.0, tmp_path / "full.onnx")
    compact = export.store_weights_as_float16(path.read_bytes(), min_elements=16)

    model = onnx.load_from_string(compact)
    weight_bytes = [
        sum(len(i.raw_data) for i in m.graph.initializer) for m in (onnx.load(str(path)), model)
    ]
    assert weight_bytes[1] < 0.55 * weight_bytes[0]  # (this tiny net's graph is mostly names)
    assert {i.data_type for i in model.graph.initializer if len(i.dims) == 4} == {
        onnx.TensorProto.FLOAT16
    }
    full = export.onnx_probabilities(path, handful.images)
    half = export.onnx_probabilities(compact, handful.images)
    assert half.dtype == np.float32
    np.testing.assert_allclose(half, full, atol=2e-3)
    assert not np.array_equal(half, full)  # the weights really changed precision


def test_temperature_is_inside_the_graph(trained, handful, tmp_path):
    images = handful.images[:6]
    sharp = export.onnx_probabilities(_export(trained, 0.5, tmp_path / "a.onnx"), images)
    soft = export.onnx_probabilities(_export(trained, 2.0, tmp_path / "b.onnx"), images)
    # same ranking, and a higher temperature pulls every top probability towards 0.5
    assert (sharp.argmax(1) == soft.argmax(1)).all()
    assert (np.abs(soft - 0.5) <= np.abs(sharp - 0.5) + 1e-6).all()


def _export(trained, temperature: float, path: Path) -> Path:
    export.export_onnx(trained.nets, temperature, path)
    return path


def test_same_seed_gives_the_same_weights(trained, handful):
    again = train(handful, TINY, progress=False)
    for a, b in zip(trained.nets, again.nets):
        for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
            assert torch.equal(x, y), name
    assert trained.members[0]["history"] == again.members[0]["history"]


def test_every_train_image_is_predicted_by_the_one_net_that_did_not_train_on_it(trained, handful):
    fold = assign_folds(handful.labels, TINY.folds, TINY.seed)
    assert trained.out_of_fold.shape == (len(handful.labels), 2)
    for k, net in enumerate(trained.nets):
        held_out = fold == k
        np.testing.assert_allclose(
            trained.out_of_fold[held_out],
            predict_logits([net], handful.images[held_out]),
            atol=1e-6,
        )
    other = predict_logits([trained.nets[1]], handful.images[fold == 0])
    assert not np.allclose(trained.out_of_fold[fold == 0], other)  # the nets really differ


def test_folds_are_stratified_and_cover_every_image():
    labels = np.array([0] * 10 + [1] * 7)
    fold = assign_folds(labels, 3, seed=0)
    assert sorted(set(fold.tolist())) == [0, 1, 2]
    for label in (0, 1):
        counts = np.bincount(fold[labels == label], minlength=3)
        assert counts.max() - counts.min() <= 1, counts
    with pytest.raises(HarnessError, match="at least 2"):
        assign_folds(labels, 1, seed=0)


def test_whitened_stem_decorrelates_the_images_2x2_patches(handful):
    net = BikeNet((4, 8, 8))
    whiten_stem(net, handful.images)
    with torch.no_grad():
        out = net.stem[0](torch.from_numpy(handful.images))[:, :12]  # the 12 filters, before GELU
    cov = torch.cov(out.permute(1, 0, 2, 3).reshape(12, -1).double())
    off_diagonal = cov - torch.diag(torch.diag(cov))
    assert off_diagonal.abs().max() < 1e-3
    assert (
        (torch.diag(cov) > 0.3) & (torch.diag(cov) < 1.0 + 1e-3)
    ).all()  # eps damps the smallest
    np.testing.assert_allclose(net.stem[0].weight[12:].detach(), -net.stem[0].weight[:12].detach())


def test_pack_puts_members_at_the_root_with_reproducible_bytes(tmp_path):
    metrics = {"accuracy": 0.5, "test_predictions": []}
    first = export.pack(tmp_path / "one" / "model.tar.gz", b"onnx-bytes", METADATA, metrics)
    second = export.pack(tmp_path / "two" / "model.tar.gz", b"onnx-bytes", METADATA, metrics)

    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(first, "r:gz") as tar:
        assert tar.getnames() == ["model.onnx", "metadata.json", "metrics.json"]
    members = export.read_artifact(first)
    assert members["model.onnx"] == b"onnx-bytes"
    assert json.loads(members["metadata.json"]) == METADATA
    assert json.loads(members["metrics.json"]) == metrics


def test_augment_erases_one_cutout_square_per_image_and_keeps_the_rest():
    gen = torch.Generator().manual_seed(0)
    images = torch.ones(16, 3, 32, 32)
    out = augment(images, padding=0, gen=gen, cutout=8)
    erased = (out == 0).all(dim=1)  # a pixel is erased in all three channels or none
    assert ((out == 0) | (out == 1)).all()
    per_image = erased.flatten(1).sum(1)
    assert (per_image > 0).all() and (per_image <= 64).all()
    assert (per_image == 64).any()  # a square fully inside the image has side 8
    assert torch.equal(augment(images, padding=0, gen=gen, cutout=0), images)
