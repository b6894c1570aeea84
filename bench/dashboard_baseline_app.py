"""bench.dashboard's baseline: a bare Streamlit page with one table as large as the Fleet page's.

Served as `plantwatch dashboard` serves the dashboard (`plantwatch.cli.components.streamlit_command`)
and opened in the browser the same way, it measures what Streamlit itself costs on this machine: the
app's load in a new browser, and a 1,000-row table drawn, with no API read and no work of ours.
"""

import numpy as np
import pandas as pd
import streamlit as st

st.title("Fleet")
st.caption("bench.dashboard's baseline: a bare Streamlit page and one table of 1,000 rows.")
values = np.random.default_rng(0).random((1000, 10))
st.dataframe(pd.DataFrame(values, columns=[f"c{k}" for k in range(10)]), hide_index=True, height=560)
