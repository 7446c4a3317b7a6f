from __future__ import annotations

import sys

from bench.imports import main

sys.exit(main())
