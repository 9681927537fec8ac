"""The daily loop: run one image through the workflow, invoke one function, read its logs.

The same AWS calls against the local stack (either mode) and AWS, like `sam local invoke` and
`sam logs`, but for the deployed workflow.
"""
