"""What the Dockerfile and docker-compose.yml say, read by the tests that run their commands without Docker
(tests/test_image_build.py, tests/test_production_smoke.py), so a test can never drift from the deployment files."""

import fcntl
import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
# Absolute paths of the image (WORKDIR, ENV, volumes, the build's temporary files): mapped under a test's folder.
IMAGE_PATHS = ("/app", "/data", "/tmp")


@dataclass(frozen=True)
class Instruction:
    name: str  # FROM, ENV, RUN, ...
    args: str  # continuation lines joined
    heredoc: str = ""  # the body of a `<<'EOF'` here-document, if any


def dockerfile(path: Path = ROOT / "Dockerfile") -> list[Instruction]:
    lines = path.read_text().splitlines()
    instructions: list[Instruction] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        text = line
        while text.endswith("\\") and index < len(lines):
            text = text[:-1] + " " + lines[index].strip()
            index += 1
        name, _, args = text.strip().partition(" ")
        body: list[str] = []
        heredoc = re.search(r"<<-?'?\"?(\w+)'?\"?", args)
        if heredoc:
            while index < len(lines) and lines[index].strip() != heredoc.group(1):
                body.append(lines[index])
                index += 1
            index += 1  # the closing delimiter
        instructions.append(Instruction(name.upper(), " ".join(args.split()), "\n".join(body)))
    return instructions


def image_env(root: Path) -> dict[str, str]:
    """The Dockerfile's ENV, with the image's absolute paths moved under `root`."""
    env: dict[str, str] = {}
    for instruction in dockerfile():
        if instruction.name == "ENV":
            for pair in shlex.split(instruction.args):
                name, _, value = pair.partition("=")
                env[name] = in_root(value, root)
    return env


def in_root(text: str, root: Path) -> str:
    """Image paths (/app/var, /data/beat/...) in a command or value, moved under `root`."""
    pattern = "|".join(re.escape(p) for p in IMAGE_PATHS)
    return re.sub(rf"(?<![\w/])({pattern})(?=/|\b)", lambda m: f"{root}{m.group(1)}", text)


def python_build_steps() -> list[Instruction]:
    """RUN steps that only run Python (optionally after VAR=value assignments): what a test can run here."""
    steps = []
    for instruction in dockerfile():
        if instruction.name != "RUN":
            continue
        words = [w for w in shlex.split(instruction.args.split("<<")[0]) if not re.match(r"^[A-Z_]+=", w)]
        if words and words[0] == "python":
            steps.append(instruction)
    return steps


def run_build_step(step: Instruction, *, cwd: Path, root: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    script = in_root(step.args, root)
    if step.heredoc:
        delimiter = re.search(r"<<-?'?\"?(\w+)", step.args).group(1)
        script = f"{script}\n{step.heredoc}\n{delimiter}\n"
    return subprocess.run(
        ["sh", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


@dataclass(frozen=True)
class BuildStep:
    command: str
    returncode: int
    output: str


@dataclass(frozen=True)
class BuiltImage:
    root: Path  # stands for the image's /: <root>/app is the WORKDIR, <root>/data the volumes
    app: Path
    env: dict[str, str]  # the Dockerfile's ENV, paths under root
    steps: list[BuildStep]  # each Python build step and how it ended

    @property
    def static_root(self) -> Path:
        return Path(self.env["VAR_DIR"]) / "static"


def built_image(shared: Path) -> BuiltImage:
    """The Dockerfile's Python build steps, run once per test session (collectstatic takes seconds of CPU) in a
    copy of the build context at <shared>/image/app, the image's WORKDIR. `shared` is a folder every xdist worker
    of the session sees; the first to get the lock builds, the others read what it recorded."""
    from tests.processes import minimal_env

    root = shared / "image"
    record = shared / "image-build.json"
    with (shared / "image-build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not record.exists():
            for path in IMAGE_PATHS:
                (root / path.lstrip("/")).mkdir(parents=True, exist_ok=True)
            app = build_context(root / "app")
            run_env = minimal_env(**image_env(root))
            steps = []
            for step in python_build_steps():
                result = run_build_step(step, cwd=app, root=root, env=run_env)
                steps.append({"command": step.args, "returncode": result.returncode,
                              "output": (result.stdout + result.stderr)[-6000:]})  # fmt: skip
            record.write_text(json.dumps(steps))
    steps = [BuildStep(**step) for step in json.loads(record.read_text())]
    return BuiltImage(root=root, app=root / "app", env=image_env(root), steps=steps)


def image_command() -> list[str]:
    return json.loads(next(i.args for i in dockerfile() if i.name == "CMD"))


def build_context(destination: Path) -> Path:
    """Copy what `COPY . .` copies: the checkout's files (git's view: tracked and new, not ignored) less
    .dockerignore, into `destination`."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.decode()
    patterns = [
        line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines() if line.strip() and line[0] != "#"
    ]
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if not source.is_file() or docker_ignores(name, patterns):
            continue
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
        target.chmod(source.stat().st_mode)
    return destination


def docker_ignores(path: str, patterns: list[str]) -> bool:
    """.dockerignore as Docker applies it: the last matching pattern wins, `!` re-includes, a pattern matching a
    folder excludes everything in it, `*` stays within one folder and `**` spans any number of them."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _glob_regex(pattern.removeprefix("!").strip("/"))
        if any(regex.fullmatch(prefix) for prefix in prefixes):
            ignored = not negate
    return ignored


def _glob_regex(glob: str) -> re.Pattern:
    out = ""
    for token in re.split(r"(\*\*/|\*\*|\*|\?)", glob):
        out += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(token, re.escape(token))
    return re.compile(out)


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


_VARIABLE = re.compile(r"\$\{(\w+)(?:(:?-)([^}]*)|(:?\?)[^}]*)?\}")


def compose_environment(service: str, values: dict[str, str]) -> dict[str, str]:
    """The service's environment as compose would give it: `${NAME:-default}` takes `values[NAME]` or the default,
    `${NAME:?message}` must be in `values`. A variable the test sets directly (values[VARIABLE]) replaces the
    whole compose value, e.g. DATABASE_URL pointing at a local database instead of the `postgres` service."""
    environment = compose()["services"][service]["environment"]

    def substitute(match: re.Match) -> str:
        name, default = match.group(1), match.group(3)
        if name in values:
            return values[name]
        if match.group(4):
            raise KeyError(f"docker-compose.yml requires {name}; the test must provide it")
        return default or ""

    return {name: values[name] if name in values else _VARIABLE.sub(substitute, str(value))
            for name, value in environment.items()}  # fmt: skip


def session_folder(tmp_path_factory) -> Path:
    """A folder shared by every xdist worker of this test session (the workers' own folders sit inside it)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
