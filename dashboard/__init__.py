"""The investigator dashboard (Streamlit). It reads and writes only through ``registry``."""
