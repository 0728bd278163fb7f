"""Running ``izbench`` as a user does: its exit code, stdout and stderr.

``izbench`` starts a real process (what the import-time, signal and end-to-end tests need);
``izbench_here`` runs the same entry point (``izbench.cli.main``: argument parsing, settings from
the environment, one-line errors, exit codes) inside the test process, which spares each call
the ~3 s of importing torch and transformers again.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout


def izbench(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m izbench ARGS`` in ``env`` (a test's ``tiny_env``, or one of its own)."""
    return subprocess.run(
        [sys.executable, "-m", "izbench", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


def izbench_here(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``izbench ARGS`` through ``izbench.cli.main`` in this process, with ``env`` as the whole
    environment while it runs."""
    from izbench.cli import main

    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_argv = dict(os.environ), sys.argv
    os.environ.clear()
    os.environ.update(env)
    sys.argv = ["izbench", *args]
    code = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            try:
                main()
            except SystemExit as done:
                code = done.code if isinstance(done.code, int) else int(done.code is not None)
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.argv = saved_argv
    return subprocess.CompletedProcess(["izbench", *args], code, out.getvalue(), err.getvalue())
