from flora_mcp.cli import main

main()
