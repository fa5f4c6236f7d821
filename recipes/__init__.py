"""tracenode: recipes package."""
