"""tracenode: node package."""
