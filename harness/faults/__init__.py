"""`harness fault`: make the real components misbehave on purpose (issue 15 point 3).

store.py    the fault model and its file, `faults.json` in the state folder (stdlib only: the
            model-server image reads it too)
endpoint.py what the model server does with endpoint faults (stdlib only)
lambdas.py  what the emulator's Lambda pools do with function faults
view.py     the table `fault list` and `status` print
commands.py the click group
"""
