"""The Streamlit dashboard (`streamlit run dashboard/app.py`); it talks to the plantwatch HTTP API only."""
