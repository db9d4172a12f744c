"""The clerks' web UI (查档): FastAPI with server-rendered, Simplified-Chinese templates."""
