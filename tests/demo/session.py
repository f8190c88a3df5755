"""A running `kubeduty demo` driven line by line through its stdin, the way a person at the terminal would:
type a line, read until the answer is there, type the next. The output is collected by a reader thread."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

KUBEDUTY = str(Path(sys.executable).with_name("kubeduty"))
CARD_START = "┌─"


class DemoSession:
    def __init__(self, *args: str) -> None:
        env = {**os.environ, "KUBEDUTY_ENV_FILE": os.devnull, "PYTHONUNBUFFERED": "1"}
        for name in ("PROMETHEUS_URL", "ALERTMANAGER_URL", "ALERTS_PORT", "ALERTS_TOKEN", "REDIS_URL"):
            env.pop(name, None)  # the demo as a newcomer runs it: nothing installed, nothing configured
        self.proc = subprocess.Popen(
            [KUBEDUTY, "demo", *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        self._chunks: list[str] = []
        self._lock = threading.Lock()
        self._errors: list[bytes] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        # stderr drained too: a full pipe would stall the demo
        self._err_reader = threading.Thread(target=self._read_errors, daemon=True)
        self._err_reader.start()
        self.typed: list[tuple[int, str]] = []  # (output position when typed, line)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in iter(self.proc.stdout.readline, b""):
            with self._lock:
                self._chunks.append(line.decode("utf-8", errors="replace"))

    def _read_errors(self) -> None:
        assert self.proc.stderr is not None
        for line in iter(self.proc.stderr.readline, b""):
            with self._lock:
                self._errors.append(line)

    @property
    def output(self) -> str:
        with self._lock:
            return "".join(self._chunks)

    def say(self, line: str) -> int:
        """Type one line; returns where the output stood, so the answer can be looked for after it."""
        assert self.proc.stdin is not None
        mark = len(self.output)
        self.typed.append((mark, line))
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()
        return mark

    def card(self, title_part: str, *, after: int, contains: str = "", within: float = 180.0) -> str:
        """The first card printed after `after` whose title line has `title_part` and whose text has `contains`."""
        deadline = time.monotonic() + within
        while True:
            for card in self.cards(after):
                if title_part in card.splitlines()[0] and contains in card:
                    return card
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(
                    f"no card titled {title_part!r} containing {contains!r} after {after}; output since:\n"
                    + self.output[after:][-4000:]
                    + "\nstderr: "
                    + self.stderr_so_far()
                )
            time.sleep(0.05)

    def line(self, text: str, *, after: int, within: float = 180.0) -> str:
        deadline = time.monotonic() + within
        while True:
            for line in self.output[after:].splitlines():
                if text in line:
                    return line
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(
                    f"no line with {text!r} after {after}; output since:\n{self.output[after:][-4000:]}"
                )
            time.sleep(0.05)

    def cards(self, after: int = 0) -> list[str]:
        text = self.output[after:]
        out = []
        for part in text.split(CARD_START)[1:]:
            end = part.find("\n└─")
            if end >= 0:  # only whole cards
                out.append(CARD_START + part[: end + 3])
        return out

    def transcript(self) -> str:
        """The session as it would look in a terminal: each typed line (`> ...`) before what it produced."""
        out, at = [], 0
        text = self.output
        for mark, line in self.typed:
            out.append(text[at:mark])
            out.append(f"> {line}\n")
            at = mark
        out.append(text[at:])
        return "".join(out)

    def stderr_so_far(self) -> str:
        with self._lock:
            return b"".join(self._errors).decode("utf-8", errors="replace")[-3000:]

    def close(self) -> tuple[int, str]:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._reader.join(timeout=10)
        self._err_reader.join(timeout=10)
        return self.proc.returncode, self.stderr_so_far()

    def __enter__(self) -> DemoSession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc.poll() is None:
            self.close()
