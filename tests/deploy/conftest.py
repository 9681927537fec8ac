"""Fixtures for the deployer: moto's in-process mock, a copy of the workflow's sources, a fake
Docker client at the SDK's boundary (its push lands in moto's ECR, as a real push lands in ECR)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from moto.sagemaker.models import sagemaker_backends
from moto.sagemaker.responses import SageMakerResponse

from harness.config import LAMBDAS_DIR, STATE_MACHINE_FILE, Settings
from harness.deploy.workflow import FUNCTIONS

REGION = "us-east-1"
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


@pytest.fixture
def aws(monkeypatch):
    """moto's mock with dummy credentials and no endpoint override in the environment."""
    for name in list(__import__("os").environ):
        if name.startswith("AWS_ENDPOINT_URL") or name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setattr(SageMakerResponse, "update_endpoint", _update_endpoint, raising=False)
    with mock_aws():
        yield


def _update_endpoint(self):
    # moto 5.2.5 lacks UpdateEndpoint; this mirrors AWS's effect on DescribeEndpoint
    from moto.core.responses import ActionResult

    backend = sagemaker_backends[self.current_account][self.region]
    endpoint = backend.endpoints[self._get_param("EndpointName")]
    config = backend.describe_endpoint_config(self._get_param("EndpointConfigName"))
    endpoint.endpoint_config_name = config["EndpointConfigName"]
    endpoint.production_variants = endpoint._process_production_variants(config["ProductionVariants"])
    endpoint.data_capture_config = config.get("DataCaptureConfig")
    return ActionResult({"EndpointArn": endpoint.arn})


def _write_fake_lambdas(root: Path) -> None:
    for spec in FUNCTIONS:
        (root / spec.folder).mkdir(parents=True)
        (root / spec.folder / "handler.py").write_text("def handler(event, context):\n    return event\n")
    (root / "shared").mkdir()
    (root / "shared" / "__init__.py").write_text("")


def _write_fake_definition(path: Path) -> None:
    states = {}
    for i, spec in enumerate(FUNCTIONS):
        states[spec.folder] = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                               "Parameters": {"FunctionName": "${" + spec.placeholder + "}", "Payload.$": "$"}}
        states[spec.folder].update({"End": True} if i == len(FUNCTIONS) - 1 else
                                   {"Next": FUNCTIONS[i + 1].folder})
    path.write_text(json.dumps({"StartAt": FUNCTIONS[0].folder, "States": states}, indent=2))


def write_model(path: Path, content: bytes) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("model.onnx")
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    path.write_bytes(buffer.getvalue())


@pytest.fixture
def sources(tmp_path) -> Settings:
    """Settings pointing at a private copy of lambdas/, the ASL file, a tiny data set and model."""
    lambdas = tmp_path / "lambdas"
    if all((LAMBDAS_DIR / s.folder / "handler.py").is_file() for s in FUNCTIONS):
        shutil.copytree(LAMBDAS_DIR, lambdas, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    else:
        _write_fake_lambdas(lambdas)
    definition = tmp_path / "workflow.asl.json"
    if STATE_MACHINE_FILE.is_file():
        shutil.copy(STATE_MACHINE_FILE, definition)
    else:
        _write_fake_definition(definition)
    data = tmp_path / "data"
    (data / "test").mkdir(parents=True)
    rows = []
    for i, name in enumerate(["bicycle_s_000001.png", "motorcycle_s_000002.png", "bike_s_000003.png"]):
        (data / "test" / name).write_bytes(b"\x89PNG fake " + name.encode())
        rows.append(f"{i}\t{i % 2}\t{name}")
    (data / "test.lst").write_text("\n".join(rows) + "\n")
    model = tmp_path / "model.tar.gz"
    write_model(model, b"onnx-bytes-v1")
    return Settings(target="aws", region=REGION, bucket="scones-test-bucket", lambdas_dir=lambdas,
                    state_machine_file=definition, data_dir=data, model_artifact=model,
                    state_dir=tmp_path / "state")


class FakeImage:
    def __init__(self, image_id: str):
        self.id = image_id
        self.tags: list[str] = []

    def tag(self, repository: str, tag: str) -> bool:
        self.tags.append(f"{repository}:{tag}")
        return True


class FakeImages:
    """docker.DockerClient().images at its boundary: build gives an image whose id follows
    `content`; push puts a manifest into (moto's) ECR as the registry would."""

    def __init__(self):
        self.content = "v1"
        self.builds: list[dict] = []
        self.pushes: list[dict] = []

    def build(self, **kwargs):
        self.builds.append(kwargs)
        return FakeImage("sha256:" + hashlib.sha256(self.content.encode()).hexdigest()), iter([])

    def push(self, repository, tag=None, stream=False, decode=False, auth_config=None):
        self.pushes.append({"repository": repository, "tag": tag, "auth_config": auth_config})
        name = repository.split("/", 1)[1]
        manifest = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST_TYPE,
                               "config": {"digest": "sha256:" + self.content}})
        boto3.client("ecr", region_name=REGION).put_image(
            repositoryName=name, imageManifest=manifest, imageTag=tag)
        return iter([{"status": "Pushing"}, {"status": f"{tag}: digest: sha256:abc size: 1"}])


class FakeDocker:
    def __init__(self):
        self.images = FakeImages()


@pytest.fixture
def docker_client():
    return FakeDocker()
