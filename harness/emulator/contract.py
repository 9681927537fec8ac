"""What other parts of the harness agree on with the emulator, in a module that imports nothing.

The stack (`up`) and the deployer import these names from here, so they never load moto (a
second or more per process) and a rename shows up as an ImportError, not as a stack that waits
for the wrong route or a hot reload that silently stops.
"""

# like LocalStack's /_localstack/health: cheap, and tells our emulator from any other server
HEALTH_PATH = "/_harness/health"

# a function tagged with os.pathsep-joined source folders runs from them (code.py): hot reload
CODE_PATHS_TAG = "harness:code-paths"

# long-poll for an execution's end (sfn_ended.py): clients wait instead of polling Describe
WAIT_EXECUTION_PATH = "/_harness/executions/wait"
