"""Helpers for the deployer's tests: a moto gap filled, sources written, a fake Docker client
at the SDK's boundary (its push lands in moto's ECR, as a real push lands in ECR)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import boto3
from moto.sagemaker.models import sagemaker_backends

REGION = "us-east-1"
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


def update_endpoint(self):
    # moto 5.2.5 lacks UpdateEndpoint; this mirrors AWS's effect on DescribeEndpoint
    from moto.core.responses import ActionResult

    backend = sagemaker_backends[self.current_account][self.region]
    endpoint = backend.endpoints[self._get_param("EndpointName")]
    config = backend.describe_endpoint_config(self._get_param("EndpointConfigName"))
    endpoint.endpoint_config_name = config["EndpointConfigName"]
    endpoint.production_variants = endpoint._process_production_variants(
        config["ProductionVariants"]
    )
    endpoint.data_capture_config = config.get("DataCaptureConfig")
    return ActionResult({"EndpointArn": endpoint.arn})


def write_model(path: Path, content: bytes) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo("model.onnx")
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    path.write_bytes(buffer.getvalue())


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
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": MANIFEST_TYPE,
                "config": {"digest": "sha256:" + self.content},
            }
        )
        boto3.client("ecr", region_name=REGION).put_image(
            repositoryName=name, imageManifest=manifest, imageTag=tag
        )
        return iter([{"status": "Pushing"}, {"status": f"{tag}: digest: sha256:abc size: 1"}])


class FakeDocker:
    def __init__(self):
        self.images = FakeImages()
