"""tracenode: vision package."""
