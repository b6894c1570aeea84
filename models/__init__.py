"""Pure machine learning: windows, architectures, training, export and inference.

Arrays and files in, models and arrays out; no knowledge of HTTP or SQL, nothing of ours imported.
"""
