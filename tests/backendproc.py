"""Test helper (not shipped): run ``aqt-backend`` as a real process against the test Label Studio,
and wait for conditions that the backend reaches in the background."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
import lsserver


def wait_until(check, timeout: float = 60.0, what: str = "condition", interval: float = 0.3):
    """Call ``check`` until it returns something truthy (returned), or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")


class BackendProcess:
    """``aqt-backend`` on a free loopback port with its own data dir, stopped by PID."""

    def __init__(
        self,
        data_dir: Path,
        ls_url: str,
        api_key: str,
        *,
        secret: str,
        workers: int = 2,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.port = lsserver.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AQT_", "LABEL_STUDIO"))}
        env.update(
            {
                "LABEL_STUDIO_URL": ls_url,
                "LABEL_STUDIO_API_KEY": api_key,
                "AQT_DATA_DIR": str(data_dir),
                "AQT_WEBHOOK_SECRET": secret,
                "AQT_TRAIN_DEBOUNCE": "0.5",
                "AQT_RECONCILE_INTERVAL": "2",
                **(extra_env or {}),
            }
        )
        exe = Path(sys.executable).with_name("aqt-backend")
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log = data_dir / "backend.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [str(exe), "--port", str(self.port), "--workers", str(workers),
                 "--log-level", "warning"],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        wait_until(self._healthy, 120, f"the backend on {self.url} (log {self.log})")

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"aqt-backend exited: {self.log.read_text()[-2000:]}")
        try:
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def get(self, path: str) -> dict:
        r = httpx.get(f"{self.url}{path}", timeout=30)
        assert r.status_code == 200, r.text
        return r.json()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
