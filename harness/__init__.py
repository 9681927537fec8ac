"""Scones Unlimited harness: run the SageMaker/Lambda/Step Functions workflow locally, promote it to AWS."""
