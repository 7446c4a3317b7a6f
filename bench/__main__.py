from __future__ import annotations

import sys

from bench import poll, sse  # live progress: SSE fan-out, memory and leak check; conditional polls
from bench.imports import main

sys.exit(main() or sse.main() or poll.main())
