"""What a first visit to the default view pays for: plotly express (0.3 s to import) is not on its path.

The Overview's bars are Vega-Lite (pages/_bars.py), as every page's charts but Reconciliation's and the Budgets
gauge (plotly's graph objects); no page imports plotly express any more. The app runs in a
process of its own, so what this test process imported counts for nothing.
"""

from __future__ import annotations

import subprocess
import sys

from tests.paths import REPO

RUN = """
import sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=90).run()
assert not at.exception, at.exception
assert [t.value for t in at.title] == ["Overview"], at.title
print("plotly.express" in sys.modules)
"""


def test_the_overview_imports_no_plotly_express(app_env):
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(REPO / "app.py")], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["False"]
