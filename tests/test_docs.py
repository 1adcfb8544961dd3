"""Every command the documentation shows runs (issue #18).

What runs
---------
Every fenced code block tagged ``bash``, ``sh``, ``shell`` or ``console`` (shell) or
``python``/``py`` (Python) in ``README.md`` and in every ``docs/**/*.md`` (a new page is
picked up by the glob; a docs site's pages under ``docs/`` too). Each shell command is its
own test, ``<file>:<line>``; a Python block is one test. Commands run in document order in
ONE temporary directory per markdown file, so ``runs/g30`` written by one line is there for
the next, even across blocks; selecting a single command with ``-k`` replays the ones before
it first. The directory holds symlinks to the repository's top-level entries (so
``python benchmarks/bench_glearn.py`` finds its file), and nothing is written back.

A shell command runs through ``bash -o pipefail -c`` with ``cwd`` = that directory, a
per-command timeout of :data:`TIMEOUT` seconds, and ``PATH`` starting with the directory of
``sys.executable`` (the ``altmarl`` script of the environment under test; a shim calling
``python -m altmarl`` if the package is not installed). A leading ``python`` is replaced by
``sys.executable``. A Python block is fed to ``sys.executable -`` in the same directory.
``PYTHONPATH`` starts with the ``altmarl`` this test imports. A failure shows the file and
line, the command as documented and as run, the exit status and the tail of stderr/stdout.

Parsing: ``\\`` line continuations are joined; a ``#`` comment (whole line or at the end of
a line, outside quotes) is dropped; in ``console`` blocks only ``$ `` lines are commands.

Markers in the markdown
-----------------------
HTML comment lines directly above a code block (blank lines between are fine; invisible in
rendered markdown). An optional double-quoted selector restricts a marker to the block's
commands containing that text; a selector matching nothing, a marker not followed by a
runnable block, or an unknown marker fails the file's ``parse`` test::

    <!-- doctest: skip REASON -->                 skip the block (the reason is reported)
    <!-- doctest: skip "TEXT" REASON -->          skip the block's commands containing TEXT
    <!-- doctest: expect-fail -->                 the commands must exit non-zero
    <!-- doctest: expect-fail "TEXT" -->          ... only those containing TEXT
    <!-- doctest: setup COMMAND -->               run COMMAND before the block (e.g. create a
                                                  placeholder file the block reads)
    <!-- doctest: skip-file REASON -->            anywhere in a file: skip all of it

Placeholders (``HOST:6379``, a user's own ``my_game.npz``) are either made real by an
earlier documented command or a ``setup`` marker, or skipped with a marker saying why.

Skipped without a marker, with a reason
---------------------------------------
* ``pip install ...``: the test runs against the package already installed (CI installs it
  with ``.ci/run``); a command running ``pytest``: that is the suite itself.
* Optional extras (:data:`REQUIRES`): ``--backend ray``/``--ray-address`` without ``ray``;
  ``reproduce continuous``/``--continuous-run``/``bench_continuous.py``/
  ``continuous_settings.py`` without ``torch`` and ``gymnasium``; likewise a Python block
  importing them or ``altmarl.continuous``;
  ``sb3-trpo`` and ``bench_local_learners.py`` without Stable-Baselines3; ``altmarl.envs``
  or ``pettingzoo`` without PettingZoo.

Reduced sizes
-------------
The documented command itself runs; only its sizes shrink. :data:`SHRINK` appends size flags
the command already accepts to every command matching a pattern. argparse keeps the LAST
value of a repeated option, so the appended flags override documented sizes (``--rollouts
50`` becomes ``--rollouts 5``) and leave every other argument as written. The same flags go
to every matching command of a file, so a ``--resume`` after a reduced run sees the protocol
it resumes (both the sweep and ``train --resume`` refuse a different one). A command that
matches a rule but contains a shell operator (``|``, ``&&``, ``;``) is an error: split it
or mark it. A command whose full size is slow and that has no size flag is skipped with a
marker (the two benchmarks without one). A plain ``altmarl ARGS`` command (no shell syntax)
runs in a child forked from a process that has imported the CLI once (:class:`Launcher`),
as the console script would run it, minus the interpreter start. The whole doc run
(``python -m pytest -q tests/test_docs.py --durations=20``) has a budget of 2 minutes on
2 cores.

Top level, not beside one module (cross-cutting): the documentation's commands span the package.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Seconds a single documented command may take (the whole run must stay under 2 minutes).
TIMEOUT = 120

SHELL_LANGS = frozenset({"bash", "sh", "shell", "console"})
PYTHON_LANGS = frozenset({"python", "py"})

#: (pattern on the documented command, flags appended when it runs). Sizes only, one worker
#: for the studies (a sweep with one worker runs its jobs in the process; the pool and Ray
#: are tested in tests/experiments/), and the tabular studies without their exploit columns
#: (3-5 s per job even at a small size; the study's exploit path is tested in
#: tests/cli/test_reproduce.py, `altmarl exploit` runs as documented); see the module
#: docstring. The continuous study keeps k = 10: README evaluates its k10_seed0 run.
SHRINK: tuple[tuple[str, str], ...] = (
    (
        r"^altmarl reproduce (warehouse|federated|grid)\b",
        "--k-values 1,6 --seeds 1 --rollouts 10 --horizon 20 --alternations 2 "
        "--no-exploit --workers 1",
    ),
    (
        r"^altmarl reproduce continuous\b",
        "--k-values 10 --seeds 1 --n 50 --rollouts 4 --horizon 20 --alternations 1 "
        "--eval-episodes 2 --workers 1",
    ),
    (r"^altmarl train\b", "--alternations 2 --update-rollouts 20 --rollouts 10 --horizon 30"),
    (r"^altmarl (simulate|evaluate)\b", "--rollouts 5 --horizon 20"),
    (r"^altmarl animate\b", "--horizon 4"),
    (r"^python benchmarks/bench_glearn\.py\b", "--k 5"),
    (r"^python benchmarks/bench_llearn\.py\b", "--quick"),
    (r"^python benchmarks/bench_train\.py\b", "--k-values 1 --n 100"),
    (r"^python benchmarks/speed_table\.py\b", "--rows glearn-refuse"),
    (r"^python benchmarks/bench_animate\.py\b", "--steps 3 --scenarios grid"),
    (r"^python benchmarks/bench_checkpoint\.py\b", "--k-values 2 --repeats 1"),
    (
        r"^python benchmarks/bench_local_learners\.py\b",
        "--k-values 1 --seeds 1 --alternations 1 --n 30 --horizon 10",
    ),
    (r"^altmarl exploit\b", "--rollouts 20 --selection-rollouts 5 --budgets 10"),
    (r"^python benchmarks/bench_update\.py\b", "--k-values 2 --seeds 1 --exploit-k 0"),
    (r"^python benchmarks/continuous_settings\.py\b", "--quick --workers 1"),
)

#: (pattern on a command or Python block, modules it needs, the extra that provides them).
REQUIRES: tuple[tuple[str, tuple[str, ...], str], ...] = (
    (r"--backend[ =]ray\b|--ray-address\b|\bimport ray\b|backend=.ray.", ("ray",), "[ray]"),
    (
        r"\breproduce continuous\b|--continuous-run\b|bench_(continuous|local_learners)\.py"
        r"|continuous_settings\.py"
        r"|\b(import|from) (torch|gymnasium)\b|altmarl\.continuous\b",
        ("torch", "gymnasium"),
        "[deep]",
    ),
    (
        r"--local-algo[ =]sb3-trpo\b|bench_local_learners\.py|\bstable_baselines3\b",
        ("stable_baselines3", "sb3_contrib"),
        "[deep]",
    ),
    (r"\baltmarl\.envs\b|\bpettingzoo\b", ("pettingzoo", "gymnasium"), "[pettingzoo]"),
)

#: Commands never run here, with the reason reported.
NEVER: tuple[tuple[str, str], ...] = (
    (r"\bpip install\b", "installs the package: the test runs against the one installed"),
    (r"\bpytest\b", "runs the test suite: that is what is running this"),
)

_DIRECTIVE = re.compile(r"^\s*<!--\s*doctest:\s*(?P<body>.*?)\s*-->\s*$")
_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
_ASSIGNMENTS = re.compile(r"^(?:\w+=\S*\s+)*")


class DocError(ValueError):
    """A markdown file whose code blocks or doctest markers cannot be read."""


@dataclass(frozen=True)
class DocCommand:
    """One command (or Python block) of a markdown file, as documented."""

    path: str  # relative to the repository root
    line: int  # 1-based line of the command's first line
    text: str  # shell: continuations joined, comment dropped; python: the block's source
    lang: str  # "shell" or "python"
    skip: str | None = None  # reason, from a marker
    expect_fail: bool = False
    setup: bool = False  # a hidden command from a `setup` marker

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def test_id(self) -> str:
        return (
            self.where
            + (":setup" if self.setup else "")
            + (":python" if self.lang == "python" else "")
        )


@dataclass(frozen=True)
class _Marker:
    name: str  # skip | expect-fail | setup
    selector: str | None
    arg: str
    line: int


def doc_files(root: Path = ROOT) -> list[Path]:
    """README.md and every docs/**/*.md, in a fixed order."""
    files = [root / "README.md"] if (root / "README.md").is_file() else []
    return files + sorted((root / "docs").glob("**/*.md"))


# ---------------------------------------------------------------------------------------
# extraction


def _unquoted(line: str) -> Iterator[tuple[int, str]]:
    """(index, char) of the characters of a shell line outside quotes and escapes."""
    quote: str | None = None
    escaped = False
    for i, ch in enumerate(line):
        if escaped:
            escaped = False
        elif ch == "\\" and quote != "'":
            escaped = True
        elif quote is not None:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        else:
            yield i, ch


def strip_comment(line: str) -> str:
    """The line without a trailing ``# comment`` (a ``#`` outside quotes starting a word)."""
    for i, ch in _unquoted(line):
        if ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def has_operator(command: str) -> bool:
    """Whether a command has a shell operator (pipe, list, redirection) outside quotes."""
    return any(ch in "|&;<>" for _, ch in _unquoted(command))


def _parse_marker(body: str, line: int) -> _Marker:
    name, _, rest = body.partition(" ")
    if name not in ("skip", "expect-fail", "setup", "skip-file"):
        raise DocError(
            f"line {line}: unknown doctest marker {name!r} (skip, expect-fail, setup, skip-file)"
        )
    if "--" in rest:
        raise DocError(f"line {line}: '--' cannot appear inside an HTML comment (marker {body!r})")
    rest = rest.strip()
    selector = None
    if rest.startswith('"'):
        end = rest.find('"', 1)
        if end < 0:
            raise DocError(f"line {line}: unterminated selector in doctest marker {body!r}")
        selector, rest = rest[1:end], rest[end + 1 :].strip()
    if name in ("skip", "skip-file") and not rest:
        raise DocError(f"line {line}: doctest {name} needs a reason")
    if name == "setup" and (selector is not None or not rest):
        raise DocError(f"line {line}: doctest setup needs a command (and takes no selector)")
    return _Marker(name, selector, rest, line)


def _shell_commands(lines: list[tuple[int, str]], console: bool) -> list[tuple[int, str]]:
    """(line, command) pairs of a shell block's lines."""
    out: list[tuple[int, str]] = []
    i = 0
    while i < len(lines):
        start, text = lines[i]
        i += 1
        if console:
            if not text.lstrip().startswith("$"):
                continue  # output
            text = text.lstrip()[1:]
        parts = [text.strip()]
        while parts[-1].endswith("\\") and i < len(lines):
            parts[-1] = parts[-1][:-1].rstrip()
            nxt = lines[i][1].strip()
            parts.append(nxt[1:].strip() if console and nxt.startswith(">") else nxt)
            i += 1
        command = strip_comment(" ".join(p for p in parts if p))
        if command:
            out.append((start, command))
    return out


def _apply_markers(
    rel: str, block_line: int, commands: list[DocCommand], markers: list[_Marker]
) -> list[DocCommand]:
    setups = [
        DocCommand(rel, m.line, m.arg, "shell", setup=True) for m in markers if m.name == "setup"
    ]
    for m in markers:
        if m.name == "setup":
            continue
        hits = [j for j, c in enumerate(commands) if m.selector is None or m.selector in c.text]
        if not hits:
            raise DocError(
                f"line {m.line}: doctest {m.name} selector {m.selector!r} matches no command "
                f"of the block at line {block_line}"
            )
        for j in hits:
            if m.name == "skip":
                commands[j] = replace(commands[j], skip=commands[j].skip or m.arg)
            else:
                commands[j] = replace(commands[j], expect_fail=True)
    return setups + commands


def extract(path: Path, root: Path = ROOT) -> list[DocCommand]:
    """The runnable commands of one markdown file, in order, with their markers applied."""
    rel = path.relative_to(root).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    commands: list[DocCommand] = []
    pending: list[_Marker] = []
    file_skip: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        number = i + 1
        i += 1
        directive = _DIRECTIVE.match(line)
        if directive:
            marker = _parse_marker(directive["body"], number)
            if marker.name == "skip-file":
                file_skip = marker.arg
            else:
                pending.append(marker)
            continue
        fence = _FENCE.match(line)
        if fence is None:
            if line.strip() and pending:
                raise DocError(
                    f"line {pending[0].line}: doctest marker not directly above a code block"
                )
            continue
        indent, mark = len(fence["indent"]), fence["fence"]
        lang = (fence["info"].split() or [""])[0].lower().lstrip("{.").rstrip("}")
        body: list[tuple[int, str]] = []
        while i < len(lines) and not (
            lines[i].strip().startswith(mark) and set(lines[i].strip()) == {mark[0]}
        ):
            body.append((i + 1, lines[i][indent:] if lines[i][:indent].isspace() else lines[i]))
            i += 1
        i += 1  # the closing fence
        if lang in SHELL_LANGS:
            block = [
                DocCommand(rel, n, text, "shell")
                for n, text in _shell_commands(body, console=lang == "console")
            ]
        elif lang in PYTHON_LANGS:
            source = "\n".join(text for _, text in body) + "\n"
            block = [DocCommand(rel, number, source, "python")] if source.strip() else []
        else:
            block = []
        if pending and not block:
            raise DocError(
                f"line {pending[0].line}: doctest marker above a block with nothing to run "
                f"(line {number}, language {lang or 'none'!r})"
            )
        commands += _apply_markers(rel, number, block, pending)
        pending = []
    if pending:
        raise DocError(f"line {pending[0].line}: doctest marker at the end of the file")
    if file_skip is not None:
        commands = [replace(c, skip=c.skip or file_skip) for c in commands]
    return commands


# ---------------------------------------------------------------------------------------
# running


def _bare(command: str) -> str:
    """The command without leading ``VAR=value`` assignments (what the rules match)."""
    return _ASSIGNMENTS.sub("", command, count=1)


def skip_reason(cmd: DocCommand) -> str | None:
    """Why a command does not run here (a marker, a never-run rule, a missing extra)."""
    if cmd.skip is not None:
        return cmd.skip
    for pattern, reason in NEVER if cmd.lang == "shell" else ():
        if re.search(pattern, cmd.text):
            return reason
    for pattern, modules, extra in REQUIRES:
        if re.search(pattern, cmd.text):
            missing = [m for m in modules if importlib.util.find_spec(m) is None]
            if missing:
                return f"needs the {extra} extra ({', '.join(missing)} not installed)"
    return None


def shrink(command: str) -> str:
    """The command with the size flags of every matching :data:`SHRINK` rule appended."""
    flags = [extra for pattern, extra in SHRINK if re.search(pattern, _bare(command))]
    if not flags:
        return command
    if has_operator(command):
        raise DocError(
            f"{command!r} matches a SHRINK rule but has a shell operator; split it into "
            "separate commands or mark it"
        )
    return " ".join([command, *flags])


def as_run(command: str) -> str:
    """The shell text that runs: sizes shrunk, a leading ``python`` as ``sys.executable``."""
    text = shrink(command)
    prefix = text[: len(text) - len(_bare(text))]
    python = shlex.quote(sys.executable)
    return prefix + re.sub(r"^python3?(?=\s)", lambda _: python, _bare(text))


@dataclass(frozen=True)
class Outcome:
    returncode: int | None  # None: timed out
    stdout: str
    stderr: str
    ran: str


#: A process that has imported ``altmarl.cli`` and built its parser once (which imports
#: every subcommand's modules) and loaded numba's CPU target, and forks a child per
#: ``altmarl`` command (``os.fork`` before any numba or torch thread exists, so the fork is
#: safe): a child starts with that done, saving the ~1 s interpreter start, imports and
#: numba set-up of each of the doc run's ~70 ``altmarl`` commands. The child runs in its
#: own session, in the workspace, with the command's environment, stdin from /dev/null and
#: stdout/stderr to files, exactly as ``altmarl``'s console script would
#: (``sys.exit(main(argv))``).
_LAUNCHER = r"""
import json, os, sys, traceback
import altmarl.cli
from numba.core.registry import cpu_target

altmarl.cli.build_parser()
cpu_target.target_context.refresh()

def child(req):
    os.setsid()
    os.chdir(req["cwd"])
    os.environ.clear()
    os.environ.update(req["env"])
    fds = [os.open(os.devnull, os.O_RDONLY)] + [
        os.open(req[k], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644) for k in ("out", "err")
    ]
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    sys.stdin = open(0, closefd=False)
    sys.stdout = open(1, "w", closefd=False)
    sys.stderr = open(2, "w", closefd=False)
    sys.argv = ["altmarl", *req["argv"]]
    try:
        code = altmarl.cli.main(req["argv"])
    except SystemExit as exc:
        code = exc.code
    except BaseException:
        traceback.print_exc()
        code = 1
    if not isinstance(code, int):
        if code is not None:
            print(code, file=sys.stderr)
        code = 0 if code is None else 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

for line in sys.stdin:
    req = json.loads(line)
    pid = os.fork()
    if pid == 0:
        try:
            child(req)
        finally:
            os._exit(1)
    print(json.dumps({"pid": pid}), flush=True)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"code": os.waitstatus_to_exitcode(status)}), flush=True)
"""

#: Characters that need a shell: such commands run through ``bash`` as documented.
_SHELL_CHARS = re.compile(r"[|&;<>$`*?~(){}\[\]!#'\"\\]")


class Launcher:
    """Runs plain ``altmarl ARGS`` commands through :data:`_LAUNCHER` (see there)."""

    def __init__(self, env: dict[str, str]):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )

    @staticmethod
    def argv(ran: str) -> list[str] | None:
        """The arguments of a plain ``altmarl`` command, ``None`` for anything else."""
        if _SHELL_CHARS.search(ran):
            return None
        words = ran.split()
        return words[1:] if words and words[0] == "altmarl" else None

    def run(self, argv: list[str], cwd: Path, env: dict[str, str], ran: str) -> Outcome:
        out, err = cwd / ".doctest.out", cwd / ".doctest.err"
        request = {"argv": argv, "cwd": str(cwd), "env": env, "out": str(out), "err": str(err)}
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        pid = json.loads(self.proc.stdout.readline())["pid"]
        timer = threading.Timer(TIMEOUT, lambda: _kill_group(pid))
        timer.start()
        try:
            code = json.loads(self.proc.stdout.readline())["code"]
        finally:
            timed_out = not timer.is_alive()
            timer.cancel()
        texts = [path.read_text(errors="replace") for path in (out, err)]
        for path in (out, err):
            path.unlink()
        return Outcome(None if timed_out else code, texts[0], texts[1], ran + "  (forked)")

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(timeout=30)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


class Workspace:
    """One markdown file's temporary directory and its commands, run in order, once."""

    def __init__(
        self,
        directory: Path,
        commands: list[DocCommand],
        env: dict[str, str],
        launcher: Launcher | None = None,
    ):
        self.directory = directory
        self.commands = commands
        self.env = env
        self.launcher = launcher
        self.outcomes: list[Outcome | None] = []
        for entry in ROOT.iterdir():
            if not entry.name.startswith(".") and entry.name != "runs":
                (directory / entry.name).symlink_to(entry)

    def outcome(self, index: int) -> Outcome | None:
        """Run the commands up to ``index`` not yet run; return that command's outcome."""
        while len(self.outcomes) <= index:
            cmd = self.commands[len(self.outcomes)]
            self.outcomes.append(None if skip_reason(cmd) else self._run(cmd))
        return self.outcomes[index]

    def _run(self, cmd: DocCommand) -> Outcome:
        if cmd.lang == "python":
            argv, stdin, ran = [sys.executable, "-"], cmd.text, f"{sys.executable} - <<block"
        else:
            ran = as_run(cmd.text)
            plain = Launcher.argv(ran) if self.launcher is not None else None
            if plain is not None and self.launcher is not None:
                return self.launcher.run(plain, self.directory, self.env, ran)
            argv, stdin = ["bash", "-o", "pipefail", "-c", ran], None
        # a session of its own, so a timeout ends the command's children too
        with subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self.directory,
            env=self.env,
            text=True,
            start_new_session=True,
        ) as proc:
            try:
                stdout, stderr = proc.communicate(stdin, timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                stdout, stderr = proc.communicate()
                return Outcome(None, stdout, stderr, ran)
        return Outcome(proc.returncode, stdout, stderr, ran)

    def earlier_failures(self, index: int) -> list[str]:
        return [
            self.commands[j].where
            for j, out in enumerate(self.outcomes[:index])
            if out is not None and _failed(self.commands[j], out)
        ]


def _failed(cmd: DocCommand, out: Outcome) -> bool:
    if out.returncode is None:
        return True
    return (out.returncode == 0) == cmd.expect_fail


def _tail(text: str, chars: int = 2000) -> str:
    text = text.rstrip()
    return text if len(text) <= chars else "..." + text[-chars:]


# ---------------------------------------------------------------------------------------
# collection


@dataclass(frozen=True)
class _Item:
    path: str
    index: int  # into the file's commands; -1 for a file that cannot be parsed
    test_id: str
    error: str | None = None


def _collect() -> tuple[dict[str, list[DocCommand]], list[_Item]]:
    by_file: dict[str, list[DocCommand]] = {}
    items: list[_Item] = []
    for path in doc_files():
        rel = path.relative_to(ROOT).as_posix()
        try:
            commands = extract(path)
            for c in commands:
                if c.lang == "shell" and skip_reason(c) is None:
                    shrink(c.text)  # a bad SHRINK match is a parse error of the file
        except DocError as exc:
            items.append(_Item(rel, -1, f"{rel}:parse", str(exc)))
            continue
        by_file[rel] = commands
        items += [_Item(rel, j, c.test_id) for j, c in enumerate(commands)]
    return by_file, items


COMMANDS, ITEMS = _collect()


@pytest.fixture(scope="module")
def doc_env(tmp_path_factory, subprocess_env) -> dict[str, str]:
    """``subprocess_env``, plus an ``altmarl`` shim first on ``PATH`` if the environment
    has no ``altmarl`` script (the package is on ``PYTHONPATH`` but not installed)."""
    if shutil.which("altmarl", path=subprocess_env["PATH"]):
        return subprocess_env
    bin_dir = tmp_path_factory.mktemp("bin")
    shim = bin_dir / "altmarl"
    shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m altmarl "$@"\n')
    shim.chmod(0o755)
    return {**subprocess_env, "PATH": os.pathsep.join([str(bin_dir), subprocess_env["PATH"]])}


@pytest.fixture(scope="module")
def workspaces(tmp_path_factory, doc_env) -> Iterator[dict[str, Workspace]]:
    """One lazily created :class:`Workspace` per markdown file, sharing one
    :class:`Launcher`."""
    launcher = Launcher(doc_env)

    class Lazy(dict):
        def __missing__(self, rel: str) -> Workspace:
            name = re.sub(r"\W+", "_", rel)
            ws = Workspace(tmp_path_factory.mktemp(name), COMMANDS[rel], doc_env, launcher)
            self[rel] = ws
            return ws

    yield Lazy()
    launcher.close()


# ---------------------------------------------------------------------------------------
# the doc run


@pytest.mark.slow
@pytest.mark.parametrize("item", ITEMS, ids=[it.test_id for it in ITEMS])
def test_documented_command(item: _Item, workspaces):
    if item.error is not None:
        pytest.fail(f"{item.path}: {item.error}", pytrace=False)
    cmd = COMMANDS[item.path][item.index]
    reason = skip_reason(cmd)
    if reason is not None:
        pytest.skip(f"{cmd.where} `{_short(cmd)}`: {reason}")
    ws = workspaces[item.path]
    out = ws.outcome(item.index)
    assert out is not None
    if not _failed(cmd, out):
        return
    earlier = ws.earlier_failures(item.index)
    status = "timed out" if out.returncode is None else f"exited {out.returncode}"
    expected = "expected non-zero (doctest: expect-fail)" if cmd.expect_fail else "expected 0"
    pytest.fail(
        f"{cmd.where}: documented command {status}, {expected}\n"
        f"  documented: {_short(cmd, 400)}\n"
        f"  ran:        {out.ran}\n"
        f"  in:         {ws.directory}\n"
        + (f"  earlier failures in this file: {', '.join(earlier)}\n" if earlier else "")
        + f"--- stderr (tail) ---\n{_tail(out.stderr)}\n"
        f"--- stdout (tail) ---\n{_tail(out.stdout, 1000)}",
        pytrace=False,
    )


def _short(cmd: DocCommand, chars: int = 80) -> str:
    text = " ".join(cmd.text.split())
    return text if len(text) <= chars else text[: chars - 3] + "..."


# ---------------------------------------------------------------------------------------
# the machinery itself (fast)


def test_readme_and_every_docs_page_are_read():
    files = [p.relative_to(ROOT).as_posix() for p in doc_files()]
    assert files[0] == "README.md"
    assert set(files[1:]) == {p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert any(c.text.startswith("altmarl train") for c in COMMANDS["README.md"])


def _write(tmp_path: Path, text: str) -> list[DocCommand]:
    path = tmp_path / "README.md"
    path.write_text(text)
    return extract(path, root=tmp_path)


def test_extract_joins_continuations_and_drops_comments(tmp_path):
    cmds = _write(
        tmp_path,
        "text\n\n```bash\n# a comment line\naltmarl train --k 2 \\\n"
        "    --out runs/x   # trailing\n"
        "python -c \"print('# not a comment'); print(1)\"\n```\n"
        "```text\naltmarl not-a-command\n```\n"
        "```console\n$ altmarl simulate \\\n> --n 5\noutput line\n```\n",
    )
    assert [(c.line, c.text) for c in cmds] == [
        (5, "altmarl train --k 2 --out runs/x"),
        (7, "python -c \"print('# not a comment'); print(1)\""),
        (13, "altmarl simulate --n 5"),
    ]


def test_markers_select_skip_expect_fail_and_setup(tmp_path):
    cmds = _write(
        tmp_path,
        "<!-- doctest: skip-file a reason for all -->\n"
        '<!-- doctest: skip "HOST:6379" a remote cluster -->\n'
        '<!-- doctest: expect-fail "k 0" -->\n\n'
        "<!-- doctest: setup touch my_game.npz -->\n"
        "```sh\naltmarl x --ray-address HOST:6379\naltmarl y --k 0\naltmarl z\n```\n",
    )
    assert [(c.text, c.setup, c.expect_fail) for c in cmds] == [
        ("touch my_game.npz", True, False),
        ("altmarl x --ray-address HOST:6379", False, False),
        ("altmarl y --k 0", False, True),
        ("altmarl z", False, False),
    ]
    assert [c.skip for c in cmds] == ["a reason for all", "a remote cluster"] + [
        "a reason for all"
    ] * 2


@pytest.mark.parametrize(
    "text",
    [
        '<!-- doctest: skip "nowhere" why -->\n```bash\naltmarl x\n```\n',
        "<!-- doctest: skip -->\n```bash\naltmarl x\n```\n",
        "<!-- doctest: skipp why -->\n```bash\naltmarl x\n```\n",
        "<!-- doctest: skip why -->\nprose\n```bash\naltmarl x\n```\n",
        "<!-- doctest: skip why -->\n```text\nx\n```\n",
        '<!-- doctest: expect-fail "--k 0" -->\n```bash\naltmarl x --k 0\n```\n',
        "```bash\naltmarl x\n```\n<!-- doctest: skip why -->\n",
    ],
    ids=["no-match", "no-reason", "unknown", "not-above", "not-runnable", "dashes", "at-end"],
)
def test_bad_markers_are_errors(tmp_path, text):
    with pytest.raises(DocError):
        _write(tmp_path, text)


def test_shrink_appends_sizes_that_argparse_takes_last():
    ran = shrink("altmarl simulate --scenario warehouse --n 1e9 --rollouts 50 --horizon 100")
    assert ran.endswith("--rollouts 50 --horizon 100 --rollouts 5 --horizon 20")
    assert shrink("altmarl certify --n 4 --k 2") == "altmarl certify --n 4 --k 2"
    assert shrink("NUMBA_NUM_THREADS=1 altmarl train --out x").endswith("--horizon 30")
    with pytest.raises(DocError):
        shrink("altmarl train --out x | tail -1")
    assert as_run("python benchmarks/bench_llearn.py").startswith(shlex.quote(sys.executable))


def test_shrunk_sizes_are_what_the_cli_parses():
    from altmarl.cli import build_parser

    argv = shlex.split(shrink("altmarl simulate --scenario warehouse --rollouts 50"))[1:]
    args = build_parser().parse_args(argv)
    assert (args.rollouts, args.horizon) == (5, 20)


def test_never_and_requires_rules():
    pip = DocCommand("README.md", 1, 'pip install -e ".[ray]"', "shell")
    assert "installed" in (skip_reason(pip) or "")
    tests = DocCommand("README.md", 1, "python -m pytest -q", "shell")
    assert skip_reason(tests) is not None
    ray = DocCommand("README.md", 1, "altmarl reproduce warehouse --backend ray --out r", "shell")
    has_ray = importlib.util.find_spec("ray") is not None
    assert (skip_reason(ray) is None) == has_ray


def test_a_workspace_runs_a_file_in_order_and_checks_exit_status(tmp_path, doc_env):
    cmds = _write(
        tmp_path,
        "<!-- doctest: setup echo made > my_game.npz -->\n"
        '<!-- doctest: expect-fail "nope" -->\n'
        "```bash\ncat my_game.npz\ntest -f nope.npz\n```\n"
        "```python\nprint(open('my_game.npz').read().strip() + ' too')\n```\n"
        "```bash\ntest -f also_nope.npz\n```\n",
    )
    (tmp_path / "ws").mkdir()
    ws = Workspace(tmp_path / "ws", cmds, doc_env)
    outs = [ws.outcome(j) for j in range(len(cmds))]
    assert [o.returncode != 0 for o in outs] == [False, False, True, False, True]
    assert outs[1].stdout == "made\n" and outs[3].stdout == "made too\n"
    assert [_failed(c, o) for c, o in zip(cmds, outs, strict=True)] == [False] * 4 + [True]
    assert ws.earlier_failures(len(cmds)) == [cmds[-1].where]
