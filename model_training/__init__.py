"""Train the bicycle / motorcycle classifier on the CPU and package it as a SageMaker model artifact.

`python -m model_training` (what `make train` runs) reads the CIFAR-100 subset from
`Settings().data_dir`, trains an ensemble of small CNNs cross-fitted on train/, fits a
temperature on their out-of-fold predictions and writes `model_training/artifact/model.tar.gz`
(format: docs/model-artifact.md) and `metrics.json`. `python -m model_training.data` downloads the data for users.
PyTorch is only needed here (the `train` extra); serving needs onnxruntime alone.
"""
