"""Docker mode: the model-server container reads the same faults.json as the CLI writes, through
the state folder mounted read-only (a folder: the CLI replaces the file, which a file mount
would miss). Reads docker-compose.yml only; no Docker engine needed."""

from __future__ import annotations

import yaml

from harness.config import REPO_ROOT, Settings
from harness.faults.store import ENDPOINT, FaultFile, FaultStore, faults_path, new_fault


def test_the_model_server_container_reads_the_state_folder_the_cli_writes():
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    server = compose["services"]["model-server"]
    inside = server["environment"]["HARNESS_STATE_DIR"]
    assert "${HARNESS_STATE_DIR:-./.harness}:" + inside + ":ro" in server["volumes"]
    # the harness passes its own state folder to compose (compose._compose_env: as_environ)
    assert Settings(state_dir=REPO_ROOT / "x").as_environ()["HARNESS_STATE_DIR"].endswith("/x")


def test_a_reader_of_the_folder_sees_each_replaced_file(tmp_path):
    reader, store = FaultFile(faults_path(tmp_path)), FaultStore(tmp_path)
    for _ in range(3):  # each write is a new file (os.replace): the reader follows every one
        fault = store.add(new_fault(ENDPOINT, "ep", "ServiceUnavailable"))
        assert fault.id in [f.id for f in reader.active(ENDPOINT, "ep")]
        store.clear()
        assert reader.active(ENDPOINT, "ep") == []
