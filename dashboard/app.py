"""Entry point of the dashboard: `streamlit run dashboard/app.py`.

Sets up the page, the navigation between the Fleet, Machine, Alerts, Quality, Models and Jobs pages,
and the login sidebar.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

VIEWS = Path(__file__).resolve().parent / "views"
# `streamlit run` puts dashboard/ (not the repository) on sys.path; make a plain checkout work too.
if str(VIEWS.parents[1]) not in sys.path:
    sys.path.append(str(VIEWS.parents[1]))

from dashboard import session  # noqa: E402


def main() -> None:
    st.set_page_config(page_title="plantwatch", page_icon="🏭", layout="wide")
    navigation = st.navigation(
        [
            st.Page(VIEWS / "fleet.py", title="Fleet", icon="🏭", url_path="fleet", default=True),
            st.Page(VIEWS / "machine.py", title="Machine", icon="📈", url_path="machine"),
            st.Page(VIEWS / "alerts.py", title="Alerts", icon="🚨", url_path="alerts"),
            st.Page(VIEWS / "quality.py", title="Quality", icon="🔍", url_path="quality"),
            st.Page(VIEWS / "models.py", title="Models", icon="🧠", url_path="models"),
            st.Page(VIEWS / "jobs.py", title="Jobs", icon="⚙️", url_path="jobs"),
        ]
    )
    sidebar = st.sidebar.empty()
    shown = session.sidebar_login(sidebar)
    navigation.run()
    if shown and session.refused():  # the page just saw the key refused: the login box at once
        session.sidebar_login(sidebar, page_refused=True)


main()
