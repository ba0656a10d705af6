"""The chart library of the page: plotly.js's basic bundle, vendored in ``assets/`` (see
assets/README.md), inlined once per page as gzip in base64 and unpacked by the browser.

Inlined as is, the bundle alone is 1.19 MB; packed it is about 0.53 MB, which leaves room
under the page budget of issue #20 (1.5 MB for the demo run) for the sections' tables. The
browser unpacks it with ``DecompressionStream`` (Chromium 80+, Firefox 113+, Safari 16.4+) and
runs it as an inline script: no network, no ``eval``. A browser without it shows a note in
place of each chart; the tables and text of the page do not depend on it.
"""

from __future__ import annotations

import base64
import gzip
from functools import cache
from importlib import resources

#: plotly.js's basic partial bundle (bar, scatter, pie): the only traces the report draws.
PLOTLY_JS = "plotly-basic.min.js.gz"  # stored as the page carries it: gzip, level 9

# The bundle's own header (name, version, copyright, licence) stays readable in the page.
_LOADER = """HEADER
const attributionPlotly = (async () => {
  if (typeof DecompressionStream === "undefined") {
    throw new Error("this browser cannot unpack the charts (no DecompressionStream)");
  }
  // after the page's first paint: the unpacking must not hold up the text
  await new Promise((done) => setTimeout(done, 0));
  const text = atob("PACKED");
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i += 1) bytes[i] = text.charCodeAt(i);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  const script = document.createElement("script");
  script.textContent = await new Response(stream).text();
  document.head.appendChild(script);
  return window.Plotly;
})();
"""


@cache
def plotly_script() -> str:
    """The body of the page's ``<script>`` that defines the promise ``attributionPlotly``,
    resolved with ``Plotly`` once the packed bundle is unpacked and run."""
    stored = resources.files("attribution.report").joinpath("assets", PLOTLY_JS).read_bytes()
    source = gzip.decompress(stored)
    header = source[: source.index(b"*/") + 2].decode("utf-8")
    packed = base64.b64encode(stored).decode("ascii")
    return _LOADER.replace("HEADER", header).replace("PACKED", packed)
