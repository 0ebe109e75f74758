"""flora-mcp: an MCP server for the FLORA generative-media API."""

__version__ = "0.1.0"
