"""The interpreter a Lambda worker runs under: the one its Runtime names, when installed here.

A function declaring `python3.12` runs on AWS under Python 3.12 with the runtime interface
client (awslambdaric) and boto3, and nothing else importable. The embedded workers do the
same when this machine has a Python 3.12: they run under a small environment made from it,
`<HARNESS_LAMBDA_RUNTIMES_DIR>/python3.12/` (default `.venv/lambda-runtimes/`), holding only
awslambdaric, boto3 and botocore at the versions pyproject.toml pins (the one place pins
live). It is made once, on first use (`make install` makes it ahead), with a progress line,
in a few seconds: `python3.12 -m venv --without-pip`, then the harness's own pip installs into
it (`pip --python`), so the harness's packages stay out of it.

A Runtime whose version is the harness's own (3.11 here) runs under the harness's
interpreter, as before. When the declared interpreter is not installed, or its environment
cannot be made, the worker runs under the harness's interpreter and that is said once,
plainly, in the deploy summary and in the function's log (`Runtime.note`).

HARNESS_LAMBDA_RUNTIMES (Settings.lambda_runtimes), comma-separated:
  auto               look for `pythonX.Y` on PATH, under pyenv's versions, in /usr/bin (default)
  off                every function runs under the harness's interpreter (said once, as above)
  python3.12=/path   this interpreter for this runtime (an interpreter that already imports
                     awslambdaric and boto3 is used as it is; else an environment is made)
e.g. `auto,python3.13=/opt/py313/bin/python3`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.config import REPO_ROOT

PACKAGES = ("awslambdaric", "boto3", "botocore")  # what AWS's Python runtimes hold
_STAMP = ".harness-runtime.json"
_RUNTIME = re.compile(r"^python(\d+)\.(\d+)$")
_HARNESS = "{}.{}.{}".format(*sys.version_info[:3])
_PROBE = "import sys; print('%d.%d.%d' % sys.version_info[:3])"


@dataclass(frozen=True)
class Runtime:
    """What a function's workers run under."""

    name: str  # the declared Runtime, e.g. "python3.12"
    python: str  # the executable the workers start
    version: str  # its version, "3.12.1"
    declared: bool  # True: the runtime's own interpreter; False: the harness's instead
    note: str = ""  # the fallback, said plainly (empty when declared)


def pins(pyproject: Path = REPO_ROOT / "pyproject.toml") -> list[str]:
    """`name==version` for PACKAGES, from pyproject.toml; without one (a non-editable install),
    the versions installed with the harness (which came from it)."""
    try:
        import tomllib

        project = tomllib.loads(pyproject.read_text())["project"]
    except (OSError, KeyError, ValueError):
        from importlib.metadata import version

        return [f"{name}=={version(name)}" for name in PACKAGES]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements.extend(extra)
    found = {}
    for requirement in requirements:
        name, sep, version = requirement.partition("==")
        if sep and name.strip() in PACKAGES:
            found[name.strip()] = f"{name.strip()}=={version.split(';')[0].split()[0]}"
    missing = [name for name in PACKAGES if name not in found]
    if missing:
        raise ValueError(f"pyproject.toml pins no version of {', '.join(missing)}")
    return [found[name] for name in PACKAGES]


def parse_spec(spec: str) -> tuple[bool, dict[str, str]]:
    """HARNESS_LAMBDA_RUNTIMES -> (discover, {runtime: interpreter})."""
    discover, explicit = True, {}
    for item in (part.strip() for part in (spec or "auto").split(",")):
        if not item or item == "auto":
            continue
        if item == "off":
            discover = False
            continue
        runtime, sep, path = item.partition("=")
        if not sep or not _RUNTIME.match(runtime.strip()) or not path.strip():
            raise ValueError(
                f"HARNESS_LAMBDA_RUNTIMES: {item!r} is not auto, off or pythonX.Y=/path/to/python"
            )
        explicit[runtime.strip()] = path.strip()
    return discover, explicit


def probe(python: str) -> str | None:
    """The X.Y.Z of an interpreter that runs (a pyenv shim without that version does not)."""
    try:
        done = subprocess.run(
            [python, "-c", _PROBE], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    out = done.stdout.strip()
    return out if done.returncode == 0 and re.fullmatch(r"\d+\.\d+\.\d+", out) else None


def _candidates(runtime: str) -> Iterator[str]:
    major, minor = _RUNTIME.match(runtime).groups()
    exe = f"python{major}.{minor}"
    on_path = shutil.which(exe)
    if on_path:
        yield on_path
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    versions = sorted(
        (root / "versions").glob(f"{major}.{minor}.*"),
        key=lambda p: [int(x) if x.isdigit() else -1 for x in p.name.split(".")],
        reverse=True,
    )
    for folder in versions:
        yield str(folder / "bin" / exe)
    for folder in ("/usr/local/bin", "/usr/bin"):
        yield f"{folder}/{exe}"


def find_interpreter(runtime: str) -> tuple[str, str] | None:
    """(path, X.Y.Z) of an installed interpreter for `pythonX.Y`, or None."""
    if not _RUNTIME.match(runtime):
        return None
    want = runtime.removeprefix("python") + "."
    for candidate in _candidates(runtime):
        version = probe(candidate)
        if version and version.startswith(want):
            return candidate, version
    return None


def _has_packages(python: str) -> bool:
    code = "import awslambdaric, boto3"
    try:
        done = subprocess.run([python, "-c", code], capture_output=True, timeout=30, check=False)
        return done.returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:  # another process (a test worker, `harness up`) may build it
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _say(message: str) -> None:
    print(f"harness: {message}", file=sys.stderr, flush=True)


class Runtimes:
    """Resolves a declared Runtime to what the workers run, once per runtime per process."""

    def __init__(
        self, spec: str = "auto", directory: Path | None = None, progress: Callable | None = None
    ):
        self.discover, self.explicit = parse_spec(spec)
        self.spec = spec or "auto"
        self.directory = Path(directory or REPO_ROOT / ".venv" / "lambda-runtimes")
        self._progress = progress or _say
        self._resolved: dict[str, Runtime] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings) -> Runtimes:
        return cls(settings.lambda_runtimes, settings.lambda_runtimes_dir)

    def resolve(self, runtime: str) -> Runtime:
        with self._lock:  # one build at a time in this process; the file lock across processes
            found = self._resolved.get(runtime)
            if found is None:
                found = self._resolved[runtime] = self._resolve(runtime)
            return found

    def _resolve(self, runtime: str) -> Runtime:
        if not _RUNTIME.match(runtime or ""):
            return self._fallback(runtime, f"{runtime!r} is not a Python runtime")
        if runtime == "python{}.{}".format(*sys.version_info[:2]):
            return Runtime(runtime, sys.executable, _HARNESS, declared=True)
        if runtime in self.explicit:
            path = self.explicit[runtime]
            version = probe(path)
            if version is None or not version.startswith(runtime.removeprefix("python") + "."):
                return self._fallback(
                    runtime,
                    f"HARNESS_LAMBDA_RUNTIMES names {path} for {runtime}, which "
                    + ("does not run" if version is None else f"is Python {version}"),
                )
            if _has_packages(path):
                return Runtime(runtime, path, version, declared=True)
            found = (path, version)
        elif not self.discover:
            return self._fallback(runtime, "HARNESS_LAMBDA_RUNTIMES=off")
        else:
            built = self._built(runtime)
            if built is not None:  # made before from an interpreter that is still there
                return built
            found = find_interpreter(runtime)
            if found is None:
                return self._fallback(runtime, f"no {runtime} interpreter is installed here")
        try:
            python = self.ensure_environment(runtime, *found)
        except (OSError, subprocess.SubprocessError, ValueError) as exc:
            return self._fallback(runtime, f"its environment could not be made ({exc})")
        return Runtime(runtime, python, found[1], declared=True)

    def _built(self, runtime: str) -> Runtime | None:
        """The environment an earlier run made, without probing interpreters again (each
        probe starts a Python, a pyenv shim a shell too: ~0.1-0.2 s on every `up`)."""
        target = self.directory / runtime
        python = target / "bin" / "python"
        try:
            stamp = json.loads((target / _STAMP).read_text())
        except (OSError, ValueError):
            return None
        if stamp.get("packages") != pins() or not Path(stamp.get("python", "")).is_file():
            return None
        return (
            Runtime(runtime, str(python), stamp["version"], declared=True)
            if python.exists()
            else None
        )

    def _fallback(self, runtime: str, why: str) -> Runtime:
        note = (
            f"Lambda runtime {runtime}: {why}, so its functions run under the harness's "
            f"Python {_HARNESS} ({sys.executable}) instead"
        )
        return Runtime(runtime, sys.executable, _HARNESS, declared=False, note=note)

    def ensure_environment(self, runtime: str, base: str, version: str) -> str:
        """`<directory>/<runtime>/bin/python`, made from `base` with the pinned packages when
        it is missing or stale (another interpreter, other pins)."""
        target = self.directory / runtime
        wanted = {"python": base, "version": version, "packages": pins()}
        python = target / "bin" / "python"
        with _file_lock(self.directory / f".{runtime}.lock"):
            try:
                if json.loads((target / _STAMP).read_text()) == wanted and python.exists():
                    return str(python)
            except (OSError, ValueError):
                pass
            started = time.monotonic()
            self._progress(
                f"making the {runtime} Lambda environment (Python {version}, "
                f"{' '.join(wanted['packages'])}) in {target}, once ..."
            )
            building = self.directory / f".{runtime}.building"
            shutil.rmtree(building, ignore_errors=True)
            try:
                _run([base, "-m", "venv", "--without-pip", str(building)])
                _run(
                    [
                        *(
                            sys.executable,
                            "-m",
                            "pip",
                            "--python",
                            str(building / "bin" / "python"),
                        ),
                        *("install", "-q", "--disable-pip-version-check", "--no-input"),
                        *wanted["packages"],
                    ]
                )
                (building / _STAMP).write_text(json.dumps(wanted))
                shutil.rmtree(target, ignore_errors=True)
                building.rename(target)
            finally:
                shutil.rmtree(building, ignore_errors=True)
            self._progress(
                f"the {runtime} Lambda environment is ready ({time.monotonic() - started:.1f} s)"
            )
        return str(python)


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise ValueError(f"{' '.join(command[:4])} ... failed: {' / '.join(tail)}")


_shared: dict[tuple[str, str], Runtimes] = {}
_shared_lock = threading.Lock()


def shared(settings) -> Runtimes:
    """One Runtimes per (setting, folder) in this process: probes and builds are paid once."""
    key = (settings.lambda_runtimes, str(settings.lambda_runtimes_dir))
    with _shared_lock:
        if key not in _shared:
            _shared[key] = Runtimes.from_settings(settings)
        return _shared[key]


def summary_line(settings, runtime: str) -> str:
    """The deploy summary's line about the functions' runtime (rich markup)."""
    resolved = shared(settings).resolve(runtime)
    if resolved.declared:
        return f"Lambda runtime {runtime}: Python {resolved.version} ({resolved.python})"
    return f"[yellow]warning[/]: {resolved.note}"


def main(argv: list[str] | None = None) -> int:
    """`python -m harness.emulator.runtimes [RUNTIME ...]`: make the environments now (the
    workflow's runtime by default); says which runtime runs under what."""
    from harness.config import Settings
    from harness.deploy.workflow import RUNTIME

    settings = Settings.from_env()
    runtimes = Runtimes.from_settings(settings)
    for runtime in (argv if argv is not None else sys.argv[1:]) or [RUNTIME]:
        resolved = runtimes.resolve(runtime)
        print(
            f"{runtime}: Python {resolved.version} ({resolved.python})"
            if resolved.declared
            else f"warning: {resolved.note}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
