"""A small table of SageMaker real-time inference prices, for the deploy summary.

An ESTIMATE: on-demand USD per instance-hour in us-east-1, from
https://aws.amazon.com/sagemaker/pricing/ (Real-Time Inference tab), as listed in 2024-2025;
compiled 2026-11-27 without live access to that page. Other regions cost more or less, and
Data Capture storage, S3 requests, Lambda and Step Functions are billed separately.
"""

from __future__ import annotations

PRICES_AS_OF = "2026-11-27 (list prices of 2024-2025, us-east-1, on-demand)"
SOURCE = "https://aws.amazon.com/sagemaker/pricing/"

HOURLY_USD = {
    "ml.t2.medium": 0.056,
    "ml.t2.large": 0.111,
    "ml.m5.large": 0.115,
    "ml.m5.xlarge": 0.23,
    "ml.m5.2xlarge": 0.461,
    "ml.c5.large": 0.102,
    "ml.c5.xlarge": 0.204,
    "ml.c5.2xlarge": 0.408,
    "ml.g4dn.xlarge": 0.7364,
}


def hourly_cost(instance_type: str, count: int = 1) -> float | None:
    price = HOURLY_USD.get(instance_type)
    return None if price is None else price * count


def describe_cost(instance_type: str, count: int = 1) -> str:
    cost = hourly_cost(instance_type, count)
    if cost is None:
        return f"{instance_type}: not in the harness's price table; see {SOURCE}"
    return (
        f"about ${cost:.3f}/hour (${cost * 24:.2f}/day, ${cost * 730:.0f}/month) for "
        f"{count} x {instance_type} while the endpoint exists. Estimate: {PRICES_AS_OF}, "
        f"source {SOURCE}. `make destroy-aws` stops the cost."
    )
