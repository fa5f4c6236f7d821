"""tracenode: simulator package."""
