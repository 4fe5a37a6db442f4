"""FastAPI service and the chipcast command line."""
