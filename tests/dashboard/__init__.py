"""Tests of the dashboard (Streamlit AppTest, roles, the browser test)."""
