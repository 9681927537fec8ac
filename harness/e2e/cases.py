"""Which images the end-to-end run uses, and what each must do.

Expectations come from two independent sources: the label in test.lst and the
endpoint's own answer to a direct InvokeEndpoint. The state machine must agree with
both: a confident, correct image passes with its label; a low-confidence one fails
with THRESHOLD_CONFIDENCE_NOT_MET; a missing object fails in the serialize step.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from harness.config import Settings
from harness.dataset import ListedImage, listed_images
from harness.errors import HarnessError
from harness.labels import LABELS

THRESHOLD_ERROR = "THRESHOLD_CONFIDENCE_NOT_MET"
MISSING_KEY = "test/no-such-image.png"
BLEND_KEY = "e2e/blended-bicycle-motorcycle.png"


@dataclass(frozen=True)
class Case:
    scenario: str  # what the case proves, shown in the table
    s3_key: str
    expect_status: str
    expect_label: str = ""
    expect_error: str = ""


def invoke(runtime, settings: Settings, body: bytes) -> list[float]:
    response = runtime.invoke_endpoint(
        EndpointName=settings.endpoint_name, ContentType="image/png", Body=body
    )
    return json.loads(response["Body"].read())


def blend(first: Path, second: Path) -> bytes:
    """Half a bicycle, half a motorcycle: a made-up image the model should be unsure of."""
    a = Image.open(first).convert("RGB")
    b = Image.open(second).convert("RGB").resize(a.size)
    out = io.BytesIO()
    Image.blend(a, b, 0.5).save(out, format="PNG")
    return out.getvalue()


def choose(settings: Settings, runtime, s3, per_class: int = 2, scan: int = 60) -> list[Case]:
    """Scan test images through the endpoint until every scenario has its image(s)."""
    images = listed_images(settings.data_dir)
    confident: dict[int, list[str]] = {0: [], 1: []}
    unsure: str | None = None
    for image in images[:scan] if scan else images:
        probabilities = invoke(runtime, settings, image.path.read_bytes())
        top = max(probabilities)
        predicted = probabilities.index(top)
        if (
            top >= settings.threshold
            and predicted == image.label
            and len(confident[image.label]) < per_class
        ):
            confident[image.label].append(image.key)
        elif top < settings.threshold and unsure is None:
            unsure = image.key
        if unsure and all(len(v) == per_class for v in confident.values()):
            break
    if unsure is None:
        unsure = _upload_blend(settings, runtime, s3, images)
    cases = [
        Case(f"confident {LABELS[label]}", key, "SUCCEEDED", expect_label=LABELS[label])
        for label, keys in confident.items()
        for key in keys
    ]
    if len(cases) < 2 * per_class:
        raise HarnessError(
            "The model is not confident and right on enough test images to build the passing cases.",
            "check the model artifact (SCONES_MODEL_ARTIFACT) and `make train`",
        )
    cases.append(Case("low confidence", unsure, "FAILED", expect_error=THRESHOLD_ERROR))
    cases.append(Case("missing S3 object", MISSING_KEY, "FAILED"))
    return cases


def _upload_blend(settings: Settings, runtime, s3, images: list[ListedImage]) -> str:
    bikes = [image.path for image in images if image.label == 0][:10]
    motos = [image.path for image in images if image.label == 1][:10]
    for bike, moto in zip(bikes, motos):
        body = blend(bike, moto)
        if max(invoke(runtime, settings, body)) < settings.threshold:
            s3.put_object(Bucket=settings.bucket, Key=BLEND_KEY, Body=body, ContentType="image/png")
            return BLEND_KEY
    raise HarnessError(
        "No low-confidence image found among test images or blends.",
        f"lower the scan's strictness or check the model; the threshold is {settings.threshold}",
    )
