"""Make sure a Chromium for the Playwright end-to-end tests exists (Debian's package; Playwright's own
browser download cannot reach its servers from our machines)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys


def main() -> int:
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        return 0
    if os.geteuid() != 0:
        print(
            "The end-to-end tests need Chromium. Install it with `sudo apt-get install -y chromium` "
            "(Debian/Ubuntu), then run `make test` again.",
            file=sys.stderr,
        )
        return 1
    print("Installing Chromium from Debian's packages for the end-to-end tests…", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
