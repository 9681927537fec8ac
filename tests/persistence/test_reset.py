"""`harness down --reset` / `make local-down RESET=1` / `make clean` wipe the saved data; a plain
`down` keeps it."""

from __future__ import annotations

import subprocess

from rich.console import Console

from harness.config import REPO_ROOT, Settings
from harness.emulator.persistence_store import Store, StoredObject, data_dir
from harness.stack import datastore, stack


def saved(tmp_path) -> Store:
    store = Store(data_dir(tmp_path))
    store.write_object(StoredObject("bkt", "k", b"v"))
    return store


def test_down_keeps_the_data_and_down_reset_wipes_it_even_with_no_stack_up(tmp_path):
    settings = Settings(state_dir=tmp_path)
    store = saved(tmp_path)
    stack.down(settings, Console(record=True))
    assert store.object_path("bkt", "k").is_file()
    console = Console(record=True, width=300)
    stack.down(settings, console, reset=True)
    assert not store.root.exists()
    assert f"wiped the saved data ({store.root})" in console.export_text()


def test_make_passes_reset_to_down_and_clean_resets():
    def dry_run(*args: str) -> str:
        return subprocess.run(
            ["make", "-n", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout

    assert "harness down --reset" in dry_run("local-down", "RESET=1")
    assert "--reset" not in dry_run("local-down")
    assert "harness down --reset" in dry_run("clean")


def test_the_restore_note_counts_and_names_what_it_skipped():
    assert datastore._note(0, 0, []) is None
    assert datastore._note(1, 1, []) == "restored 1 object, 1 execution"
    note = datastore._note(212, 37, ["/d/x.json: no start date"])
    assert (
        note == "restored 212 objects, 37 executions\n  skipped unreadable /d/x.json: no start date"
    )
