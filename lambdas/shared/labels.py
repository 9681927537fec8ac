"""The class names, in the order of the endpoint's answer: [p_bicycle, p_motorcycle].

Their one home. Every Lambda zip bundles shared/ and cannot import the harness, so the names
live here; the harness reads this same file (harness/labels.py) and training writes them into
the model artifact's metadata.json from there. Keep this module free of imports.
"""

LABELS = ("bicycle", "motorcycle")
