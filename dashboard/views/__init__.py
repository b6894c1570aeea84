"""The dashboard's pages; Streamlit runs each file as a script (see dashboard/app.py).

Not called `pages/`: Streamlit treats a `pages/` folder next to the entry script as the old
multipage layout and, until `st.navigation` first runs, would run these files without app.py.
"""
