"""tracenode: drivers package."""
