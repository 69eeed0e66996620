"""The notebook UI: the live Dashboard widget (ipywidgets and matplotlib, loaded on first use)."""
