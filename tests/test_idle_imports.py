"""A daemon with no WhatsApp Web account, no sealing and no config change loads none of the heavy
modules it does not use (issue 14: idle RSS). neonize's Go library alone is ~40 MB."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("neonize", "cryptography", "ruamel", "segno")

PROBE = """
import json, sys
import whatshooked.cli.main, whatshooked.service.daemon, whatshooked.api.app
print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))
"""


def test_serving_imports_no_heavy_module_it_does_not_use() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120)
    loaded = set(json.loads(result.stdout))
    assert loaded.isdisjoint(HEAVY), sorted(loaded & set(HEAVY))
