"""Real servers for remote files, started on loopback ports and stopped by their own
process ids: Debian's nginx (HTTP with Range, a folder listing, an access log that
counts each request's bytes) and moto's standalone S3 server.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from test_orthanc import die_with_parent, free_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
MOTO = Path(sys.executable).parent / "moto_server"
# what a run needs to reach moto: the usual AWS variables (botocore reads
# AWS_ENDPOINT_URL_S3), as for any S3-compatible store; encaps-lint has no option for it
S3_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
    process.wait(30)
    with pytest.raises(ProcessLookupError):
        os.kill(process.pid, 0)


def _wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{url}: the server exited: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"{url}: no answer after 30 s")


class Nginx:
    """nginx serving `root` at `url`, folders listed (autoindex), `/private/` refused
    (403); `requests()` reads its access log: (method, path, status, body bytes)."""

    def __init__(self, root: Path, folder: Path) -> None:
        if not os.path.exists(NGINX):
            pytest.fail("nginx is not installed (.ci/run installs it: apt-get install nginx)")
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "access.log"
        temp = "\n".join(
            f"  {kind}_temp_path {folder}/{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        user = "user root;" if os.geteuid() == 0 else ""
        (folder / "nginx.conf").write_text(
            f"""daemon off;
worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log;
{user}
events {{ worker_connections 64; }}
http {{
  log_format counted '$request_method $uri $status $body_bytes_sent';
  access_log {self.log} counted;
{temp}
  default_type application/octet-stream;
  server {{
    listen 127.0.0.1:{self.port};
    root {root};
    autoindex on;
    location /private/ {{ deny all; }}
  }}
}}
"""
        )
        output = folder / "nginx.out"
        self.process = subprocess.Popen(
            [NGINX, "-c", str(folder / "nginx.conf"), "-p", str(folder)],
            stdout=output.open("wb"),
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        _wait_for(self.url + "/", self.process, folder / "error.log")

    def requests(self) -> list[tuple[str, str, int, int]]:
        rows = []
        for line in self.log.read_text().splitlines():
            method, path, status, sent = line.split()
            rows.append((method, path, int(status), int(sent)))
        return rows

    def clear_log(self) -> None:
        self.log.write_text("")  # nginx appends (O_APPEND): the next line starts at 0

    def stop(self) -> None:
        _stop(self.process)


class Moto:
    """moto's S3 server; `env` is what a client needs to reach it."""

    def __init__(self, folder: Path) -> None:
        if not MOTO.exists():
            pytest.fail("moto_server is not installed (the test extra installs moto[server])")
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.env = {**S3_CREDENTIALS, "AWS_ENDPOINT_URL_S3": self.endpoint}
        log = folder / "moto.log"
        self.process = subprocess.Popen(
            [str(MOTO), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        _wait_for(self.endpoint + "/", self.process, log)

    def upload(self, local: Path, bucket: str, prefix: str) -> None:
        import boto3

        s3 = boto3.client("s3", endpoint_url=self.endpoint, **_boto_credentials())
        if bucket not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
            s3.create_bucket(Bucket=bucket)
        for path in sorted(local.rglob("*")):
            if path.is_file():
                key = f"{prefix}/{path.relative_to(local).as_posix()}"
                s3.upload_file(str(path), bucket, key)

    def stop(self) -> None:
        _stop(self.process)


def _boto_credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": S3_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "region_name": S3_CREDENTIALS["AWS_DEFAULT_REGION"],
    }
