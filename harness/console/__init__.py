"""`harness console`: the Step Functions / Lambda / SageMaker console, local, in the browser.

A small server-rendered Flask app (templates/, one stylesheet, one short script for the
live parts). It reads only AWS APIs and Data Capture, so the same pages show the local
stack in either mode and AWS (`--target aws`, read-only unless `--allow-run`).
"""
